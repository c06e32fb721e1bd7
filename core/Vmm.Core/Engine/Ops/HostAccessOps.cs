using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>host.read</c>: a load by the VMM process.</summary>
public sealed record HostRead(ulong Len) : StepOp
{
    public static OpDefinition Definition { get; } = new("host.read", OpAddressing.HvaOrVmGpa, ["len"], [], r => new HostRead(r.Length("len") ?? 0));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Len, "len");

    public override KernelResult Execute(OpContext context) =>
        context.VmmAlive() ?? context.Kernel.Uaccess.UserAccess(context.Kernel.Vmm, new Hva(context.HostAddress()), context.ReadBuffer(Len), write: false);
}

/// <summary><c>host.write</c>: a store by the VMM process.</summary>
public sealed record HostWrite(byte[] Data) : StepOp
{
    public static OpDefinition Definition { get; } = new("host.write", OpAddressing.HvaOrVmGpa, ["data"], [], r => new HostWrite(r.Data("data") ?? []));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => ((ulong)Data.Length, "data");

    public override KernelResult Execute(OpContext context)
    {
        if (context.VmmAlive() is { } dead) return dead;
        var (vmm, hva) = (context.Kernel.Vmm, context.HostAddress());
        // Under a design that bounces the VMM's writes, its stores to guest memory are that design's system call.
        return vmm.FindVma(hva) is { BounceWrites: true, Vm.IsNone: false } vma
            ? context.Kernel.Syscalls.BouncedWrite(vmm, vma, hva, context.WriteBuffer(Data))
            : context.Kernel.Uaccess.UserAccess(vmm, new Hva(hva), context.WriteBuffer(Data), write: true);
    }
}

/// <summary><c>host.procmem-read</c>: a read of /proc/pid/mem.</summary>
public sealed record ProcMemRead(ulong Len) : StepOp
{
    public static OpDefinition Definition { get; } = new("host.procmem-read", OpAddressing.HvaOrVmGpa, ["len"], [], r => new ProcMemRead(r.Length("len") ?? 0));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Len, "len");

    public override KernelResult Execute(OpContext context) =>
        context.VmmAlive() ?? context.Kernel.Syscalls.RemoteAccess(context.Kernel.Vmm, context.HostAddress(), context.ReadBuffer(Len), write: false, procMem: true);
}

/// <summary><c>host.procmem-write</c>: a write to /proc/pid/mem.</summary>
public sealed record ProcMemWrite(byte[] Data) : StepOp
{
    public static OpDefinition Definition { get; } = new("host.procmem-write", OpAddressing.HvaOrVmGpa, ["data"], [], r => new ProcMemWrite(r.Data("data") ?? []));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => ((ulong)Data.Length, "data");

    public override KernelResult Execute(OpContext context) =>
        context.VmmAlive() ?? context.Kernel.Syscalls.RemoteAccess(context.Kernel.Vmm, context.HostAddress(), context.WriteBuffer(Data), write: true, procMem: true);
}

/// <summary><c>host.process-vm-readv</c>: process_vm_readv on the VMM.</summary>
public sealed record ProcessVmReadv(ulong Len) : StepOp
{
    public static OpDefinition Definition { get; } = new("host.process-vm-readv", OpAddressing.HvaOrVmGpa, ["len"], [], r => new ProcessVmReadv(r.Length("len") ?? 0));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Len, "len");

    public override KernelResult Execute(OpContext context) =>
        context.VmmAlive() ?? context.Kernel.Syscalls.RemoteAccess(context.Kernel.Vmm, context.HostAddress(), context.ReadBuffer(Len), write: false, procMem: false);
}

/// <summary><c>host.madvise</c>: madvise(2) as root on the VMM's mapping.</summary>
public sealed record Madvise(ulong Size, string Advice) : StepOp
{
    /// <summary>The values of <c>advice</c>.</summary>
    public static IReadOnlyList<string> Advices { get; } = ["HWPOISON", "SOFT_OFFLINE", "DONTNEED", "HUGEPAGE", "NOHUGEPAGE"];

    public static OpDefinition Definition { get; } = new("host.madvise", OpAddressing.HvaOrVmGpa, ["size", "advice"], [],
        r => new Madvise(r.Size("size") ?? 0, r.OneOf("advice", [.. Advices]) ?? ""));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Size, "size");

    public override KernelResult Execute(OpContext context) =>
        context.VmmAlive() ?? context.Kernel.Syscalls.Madvise(context.Kernel.Vmm, context.HostAddress(), Size, Advice);
}
