using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine.Ops;

/// <summary>
/// <c>hw.memory-error</c>: an uncorrectable error poisons a line of the frame behind vm+gpa or pfn; <c>consumed</c>
/// means the VMM's load hit it (#MC, memory_failure with MF_ACTION_REQUIRED), otherwise it is found by a scrub.
/// <c>unreachableMapping</c> (an extension, K30) takes the VMM's mapping at vm+gpa off the page's rmap for this
/// memory_failure, so try_to_unmap cannot reach it and the unmap fails.
/// </summary>
public sealed record MemoryError(bool Consumed = false, bool UnreachableMapping = false) : StepOp
{
    public static OpDefinition Definition { get; } = new("hw.memory-error", OpAddressing.VmGpaOrPfn, [], ["consumed", "unreachableMapping"],
        r => new MemoryError(r.Bool("consumed") ?? false, r.Bool("unreachableMapping") ?? false));

    public override string Name => Definition.Name;

    public override KernelResult Execute(OpContext context)
    {
        var kernel = context.Kernel;
        var (pfn, offset, hva) = context.ResolveFrame(create: true);
        if (!pfn.IsValid) return Outcome.Error(Errno.ENOMEM);
        kernel.StepFrames.Acted(pfn); // the frame the error hit: lost err follows it, not the gpa
        if (!UnreachableMapping)
        {
            kernel.Memory.PoisonLine(pfn, offset / PageGeometry.LineSize);
            return Handle(kernel, context, pfn, offset, hva);
        }
        // A mapping the rmap walk does not list (as while fork or mremap has not linked its anon_vma yet).
        var page = hva & ~(ulong)(PageGeometry.PageSize - 1);
        var entry = kernel.Vmm.PageTable.Lookup(page, out var size);
        if (hva == 0 || !entry.MapsFrame || size != MappingSize.Size4K || entry.Pfn != pfn)
            throw context.Bad("\"unreachableMapping\" needs vm and gpa of a page the VMM maps with a 4 KiB PTE");
        kernel.Memory.PoisonLine(pfn, offset / PageGeometry.LineSize);
        kernel.Mm.Rmap.Remove(pfn, kernel.Vmm.Pid, page);
        var result = Handle(kernel, context, pfn, offset, hva);
        if (kernel.Vmm.PageTable.Lookup(page, out _) == entry) kernel.Mm.Rmap.Add(pfn, kernel.Vmm.Pid, page, MappingSize.Size4K);
        return result;
    }

    private KernelResult Handle(HostKernel kernel, OpContext context, Pfn pfn, int offset, ulong hva)
    {
        if (Consumed && hva != 0)
        {
            // The VMM consumed it: #MC → kill_me_maybe → memory_failure(MF_ACTION_REQUIRED), SIGBUS either way.
            return kernel.Uaccess.ConsumedByUser(kernel.Vmm, new Hva(hva), pfn, new MemResult(MemStatus.PoisonConsumed, offset / PageGeometry.LineSize));
        }
        if (Consumed) context.Ledger.Add(CostKind.MachineCheck);
        // A signal memory_failure sends the VMM (early kill, a policy's report) is the outcome over rc (OutcomeResolver).
        var rc = kernel.MemoryFailure.Handle(pfn, actionRequired: Consumed, current: Consumed ? kernel.Vmm : null, currentVa: new Hva(hva));
        return rc == 0 ? Outcome.Ok() : Outcome.Error(rc);
    }
}

/// <summary><c>hw.flip-bit</c>: one bit of a line flips in DRAM (a row-hammer or a bad cell), under any integrity the controller keeps.</summary>
public sealed record FlipBit(int Bit) : StepOp
{
    public static OpDefinition Definition { get; } = new("hw.flip-bit", OpAddressing.VmGpaOrPfn, ["bit"], [], r => new FlipBit((int)(r.Integer("bit", 0, 511) ?? 0)));

    public override string Name => Definition.Name;

    public override KernelResult Execute(OpContext context)
    {
        var (pfn, offset, _) = context.ResolveFrame(create: true);
        if (!pfn.IsValid) return Outcome.Error(Errno.ENOMEM);
        context.Kernel.Memory.FlipBit(pfn, offset / PageGeometry.LineSize, Bit);
        return Outcome.Ok();
    }
}

/// <summary>Extension <c>hw.unpoison</c>: /sys/kernel/debug/hwpoison/unpoison-pfn → unpoison_memory().</summary>
public sealed record Unpoison : StepOp
{
    public static OpDefinition Definition { get; } = new("hw.unpoison", OpAddressing.VmGpaOrPfn, [], [], _ => new Unpoison());

    public override string Name => Definition.Name;

    public override KernelResult Execute(OpContext context)
    {
        var (pfn, _, _) = context.ResolveFrame(create: false);
        if (!pfn.IsValid) return Outcome.Error(Errno.ENXIO);
        context.Kernel.StepFrames.Acted(pfn);
        var rc = context.Kernel.MemoryFailure.Unpoison(pfn);
        return rc == 0 ? Outcome.Ok() : Outcome.Error(rc);
    }
}
