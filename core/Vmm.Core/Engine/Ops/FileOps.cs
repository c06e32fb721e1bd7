using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>host.pread</c>: read(2) of the VM's backing file; with <c>bufferGpa</c> into the VMM's mapping of that gpa (K6).</summary>
public sealed record HostPread(ulong Len, ulong? BufferGpa = null) : StepOp
{
    public static OpDefinition Definition { get; } = new("host.pread", OpAddressing.VmFile, ["len"], ["bufferGpa"],
        r => new HostPread(r.Length("len") ?? 0, r.Size("bufferGpa")));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Len, "len");

    protected internal override void CheckAfterRange(StepReader step)
    {
        if (BufferGpa is { } buffer) step.CheckGpaRange(buffer, Len, "len", "bufferGpa");
    }

    public override KernelResult Execute(OpContext context)
    {
        var vm = context.RequireVm();
        if (BufferGpa is { } target) return ReadIntoGuestBuffer(context, vm, target);
        return context.Kernel.Syscalls.FileReadWrite(context.RequireFile(vm), At.Offset ?? 0, context.ReadBuffer(Len), write: false);
    }

    /// <summary>pread(fd, buf, ...) whose buffer is the VMM's mapping of guest memory (K6).</summary>
    private KernelResult ReadIntoGuestBuffer(OpContext context, Vm vm, ulong bufferGpa)
    {
        var (len, hva) = context.GuestBuffer(vm, bufferGpa, Len);
        var kernel = context.Kernel;
        var read = kernel.Syscalls.FileReadWrite(context.RequireFile(vm), At.Offset ?? 0, new byte[len], write: false);
        if (!read.IsOk || read.Data is null) return read;
        var copied = kernel.Syscalls.UserCopy(kernel.Vmm, hva, read.Data, toUser: true);
        return copied == 0 && read.Data.Length > 0 ? Outcome.Error(Errno.EFAULT) : Outcome.OkCount(copied);
    }
}

/// <summary>
/// <c>host.pwrite</c>: write(2) of <c>data</c> to the VM's backing file; with <c>bufferGpa</c>, <c>len</c> bytes from
/// the VMM's mapping of that gpa instead (K6).
/// </summary>
public sealed record HostPwrite(byte[]? Data, ulong? Len = null, ulong? BufferGpa = null) : StepOp
{
    // With bufferGpa the bytes come from guest memory: then `len` says how many, instead of `data`.
    public static OpDefinition Definition { get; } = new("host.pwrite", OpAddressing.VmFile, [], ["data", "len", "bufferGpa"], Parse);

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent =>
        Data is { } bytes ? ((ulong)bytes.Length, "data") : Len is { } len ? (len, "len") : (0, "size");

    private static HostPwrite Parse(StepReader r)
    {
        var len = r.Length("len");
        var data = r.Data("data");
        return new HostPwrite(data, len, r.Size("bufferGpa"));
    }

    protected internal override void CheckBeforeRange(StepReader step)
    {
        if (BufferGpa is not null && Data is not null)
            throw step.Fail(null, $"{step.What} with \"bufferGpa\" writes from guest memory: give \"len\", not \"data\"");
        if (BufferGpa is not null && Len is null)
            throw step.Fail(null, $"{step.What} with \"bufferGpa\" needs \"len\" (how many bytes to write from guest memory)");
        if (BufferGpa is null && Len is not null)
            throw step.Fail("len", $"{step.What} takes \"len\" only with \"bufferGpa\"; give the bytes as \"data\"");
        if (BufferGpa is null && Data is null)
            throw step.Fail(null, $"{step.What} needs \"data\" (or \"bufferGpa\" and \"len\")");
    }

    protected internal override void CheckAfterRange(StepReader step)
    {
        if (BufferGpa is { } buffer) step.CheckGpaRange(buffer, Len ?? 0, "len", "bufferGpa");
    }

    public override KernelResult Execute(OpContext context)
    {
        var vm = context.RequireVm();
        if (BufferGpa is { } source) return WriteFromGuestBuffer(context, vm, source);
        return context.Kernel.Syscalls.FileReadWrite(context.RequireFile(vm), At.Offset ?? 0, context.WriteBuffer(Data), write: true);
    }

    /// <summary>pwrite(fd, buf, ...) whose buffer is the VMM's mapping of guest memory (K6).</summary>
    private KernelResult WriteFromGuestBuffer(OpContext context, Vm vm, ulong bufferGpa)
    {
        var (len, hva) = context.GuestBuffer(vm, bufferGpa, Len);
        var kernel = context.Kernel;
        var buffer = new byte[len];
        var copied = kernel.Syscalls.UserCopy(kernel.Vmm, hva, buffer, toUser: false);
        if (copied == 0) return Outcome.Error(Errno.EFAULT);
        return kernel.Syscalls.FileReadWrite(context.RequireFile(vm), At.Offset ?? 0, buffer.AsSpan(0, copied), write: true);
    }
}

/// <summary><c>host.fallocate</c>: fallocate(2) on the VM's backing file.</summary>
public sealed record Fallocate(ulong Size, IReadOnlyList<string> Mode) : StepOp
{
    /// <summary>The values of <c>mode</c>.</summary>
    public static IReadOnlyList<string> Modes { get; } = ["PUNCH_HOLE", "KEEP_SIZE"];

    public static OpDefinition Definition { get; } = new("host.fallocate", OpAddressing.VmFile, ["size"], ["mode"],
        r => new Fallocate(r.Size("size") ?? 0, r.ListOf("mode", "a list like [\"PUNCH_HOLE\", \"KEEP_SIZE\"]", [.. Modes])));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Size, "size");

    public override KernelResult Execute(OpContext context)
    {
        var vm = context.RequireVm();
        return context.Kernel.Syscalls.Fallocate(context.RequireFile(vm), At.Offset ?? 0, Size, Mode.Contains("PUNCH_HOLE"), Mode.Contains("KEEP_SIZE"));
    }
}

/// <summary>
/// <c>host.mmap-backing</c>: a second mapping of the VM's backing file in the VMM, at the next free 1 GiB boundary,
/// MAP_FIXED at <c>hva</c>, or MAP_FIXED over another VM's memslot (<c>overVm</c>: one VMM mapping the same backing
/// into two VMs); its address is the outcome's count.
/// </summary>
public sealed record MmapBacking(ulong Size, string? OverVm = null) : StepOp
{
    public static OpDefinition Definition { get; } = new("host.mmap-backing", OpAddressing.VmFile, ["size"], ["hva", "overVm"], r => new MmapBacking(r.Size("size") ?? 0, r.OtherVm("overVm")));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Size, "size");

    protected internal override void CheckBeforeRange(StepReader step)
    {
        if (At.Hva is { } fixedAt && fixedAt % ScenarioLimits.PageBytes != 0)
            throw step.Fail("hva", $"{step.What}: \"hva\" 0x{fixedAt:x} must be page-aligned (MAP_FIXED); use a multiple of 4K");
        if (At.Hva is not null && OverVm is not null)
            throw step.Fail("overVm", $"{step.What}: give \"hva\" or \"overVm\", not both (both say where MAP_FIXED maps)");
    }

    public override KernelResult Execute(OpContext context)
    {
        if (context.VmmAlive() is { } dead) return dead;
        var vm = context.RequireVm();
        if (vm.File is null) throw context.Bad($"vm '{vm.Info.Name}' is anon-backed: there is no file to map");
        if (At.Hva is { } fixedAt && fixedAt % PageGeometry.PageSize != 0) throw context.Bad($"\"hva\" 0x{fixedAt:x} must be page-aligned (MAP_FIXED)");
        var at = At.Hva;
        if (OverVm is { } name)
        {
            var over = context.Kernel.Kvm.FindVm(name) ?? throw context.Bad($"names vm '{name}', which the scenario does not declare");
            if (Size > over.Info.MemoryBytes) throw context.Bad($"\"size\" 0x{Size:x} is larger than vm '{name}''s memslot (0x{over.Info.MemoryBytes:x}); map at most its memory");
            at = over.Info.HvaBase.Value;
        }
        return context.Kernel.Syscalls.MmapBacking(vm, At.Offset ?? 0, Size, at);
    }
}
