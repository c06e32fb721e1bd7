using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>host.munmap</c>: munmap(2) in the VMM.</summary>
public sealed record Munmap(ulong Size) : StepOp
{
    public static OpDefinition Definition { get; } = new("host.munmap", OpAddressing.HvaOrVmGpa, ["size"], [], r => new Munmap(r.Size("size") ?? 0));

    public override string Name => Definition.Name;

    protected internal override (ulong Bytes, string? Name) Extent => (Size, "size");

    public override KernelResult Execute(OpContext context) =>
        context.VmmAlive() ?? context.Kernel.Syscalls.Munmap(context.Kernel.Vmm, context.HostAddress(), Size);
}

/// <summary><c>host.fork</c>: the VMM forks; the child shares its private mappings copy-on-write.</summary>
public sealed record Fork : StepOp
{
    public static OpDefinition Definition { get; } = new("host.fork", OpAddressing.None, [], [], _ => new Fork());

    public override string Name => Definition.Name;

    public override KernelResult Execute(OpContext context)
    {
        if (context.VmmAlive() is { } gone) return gone;
        context.Kernel.Syscalls.Fork(context.Kernel.Vmm);
        return Outcome.Ok();
    }
}

/// <summary><c>host.exit</c>: the VMM exits; later VMM ops get ESRCH.</summary>
public sealed record Exit : StepOp
{
    public static OpDefinition Definition { get; } = new("host.exit", OpAddressing.None, [], [], _ => new Exit());

    public override string Name => Definition.Name;

    public override KernelResult Execute(OpContext context)
    {
        context.Kernel.Syscalls.Exit(context.Kernel.Vmm);
        return Outcome.Ok();
    }
}
