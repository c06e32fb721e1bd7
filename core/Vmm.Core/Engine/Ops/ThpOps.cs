using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>thp.collapse</c>: khugepaged collapses the 2 MiB range holding the address into one huge page.</summary>
public sealed record ThpCollapse : StepOp
{
    public static OpDefinition Definition { get; } = new("thp.collapse", OpAddressing.HvaOrVmGpa, [], [], _ => new ThpCollapse());

    public override string Name => Definition.Name;

    public override KernelResult Execute(OpContext context)
    {
        if (context.VmmAlive() is { } dead) return dead;
        var rc = context.Kernel.HugeMemory.Collapse(context.Kernel.Vmm, context.HostAddress());
        return rc == 0 ? Outcome.Ok() : Outcome.Error(rc);
    }
}

/// <summary><c>thp.split</c>: split_huge_page on the huge page mapped at the address.</summary>
public sealed record ThpSplit : StepOp
{
    public static OpDefinition Definition { get; } = new("thp.split", OpAddressing.HvaOrVmGpa, [], [], _ => new ThpSplit());

    public override string Name => Definition.Name;

    public override KernelResult Execute(OpContext context)
    {
        if (context.VmmAlive() is { } dead) return dead;
        var kernel = context.Kernel;
        var hva = context.HostAddress();
        var entry = kernel.Vmm.PageTable.Lookup(hva, out var size);
        if (size != MappingSize.Size2M || !entry.IsPresent) return Outcome.Error(Errno.EINVAL);
        return kernel.HugeMemory.SplitHugePage(entry.Pfn) ? Outcome.Ok() : Outcome.Error(Errno.EBUSY);
    }
}
