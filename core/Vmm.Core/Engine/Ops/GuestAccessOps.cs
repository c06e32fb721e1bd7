using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>guest.read</c>: a vCPU load through the EPT.</summary>
public sealed record GuestRead(ulong Len, bool Shared = false) : StepOp
{
    public static OpDefinition Definition { get; } = new("guest.read", OpAddressing.VmGpa, ["len"], ["shared"],
        r => new GuestRead(r.Length("len") ?? 0, r.Bool("shared") ?? false));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Len, "len");

    public override KernelResult Execute(OpContext context)
    {
        var vm = context.RequireVm();
        return context.Kernel.Kvm.GuestAccess(vm, context.RequireGpa(vm), context.ReadBuffer(Len), write: false, Shared);
    }
}

/// <summary><c>guest.write</c>: a vCPU store through the EPT.</summary>
public sealed record GuestWrite(byte[] Data, bool Shared = false) : StepOp
{
    public static OpDefinition Definition { get; } = new("guest.write", OpAddressing.VmGpa, ["data"], ["shared"],
        r => new GuestWrite(r.Data("data") ?? [], r.Bool("shared") ?? false));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => ((ulong)Data.Length, "data");

    public override KernelResult Execute(OpContext context)
    {
        var vm = context.RequireVm();
        return context.Kernel.Kvm.GuestAccess(vm, context.RequireGpa(vm), context.WriteBuffer(Data), write: true, Shared);
    }
}
