using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>inspect</c>: the state of the frame behind vm+gpa or pfn and of its mappings, for <c>expect.state</c>.</summary>
public sealed record Inspect : StepOp
{
    public static OpDefinition Definition { get; } = new("inspect", OpAddressing.VmGpaOrPfn, [], [], _ => new Inspect());

    public override string Name => Definition.Name;

    public override KernelResult Execute(OpContext context)
    {
        var kernel = context.Kernel;
        var state = new Dictionary<string, object?>(StringComparer.Ordinal);
        Pfn pfn;
        Vm? vm = null;
        ulong gpa = 0;
        if (At.Pfn is { } rawPfn && At.Vm is null)
        {
            pfn = new Pfn(rawPfn);
            if (!kernel.Mm.Frames.IsValid(pfn)) throw context.Bad($"pfn 0x{rawPfn:x} is outside host memory");
        }
        else
        {
            vm = context.RequireVm();
            gpa = context.RequireGpa(vm);
            pfn = kernel.Kvm.FrameOf(vm.Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
        }
        var valid = pfn.IsValid;
        var head = valid ? kernel.Mm.Head(pfn) : pfn;
        var flags = valid ? kernel.Mm.Frames.Flags(pfn) | (kernel.Mm.Frames.Flags(head) & FrameFlags.HwPoison) : FrameFlags.None;
        state["pfn"] = valid ? $"0x{pfn.Value:x}" : null;
        state["hwpoison"] = (flags & FrameFlags.HwPoison) != 0;
        state["private"] = vm is not null ? vm.IsPrivate(new Gfn(gpa >> PageGeometry.PageShift)) || (flags & FrameFlags.Private) != 0 : (flags & FrameFlags.Private) != 0;
        if (vm is not null)
        {
            var size = MappingSize.Size4K;
            var entry = kernel.Vmm.Alive ? kernel.Vmm.PageTable.Lookup(vm.Info.HvaBase.Value + gpa, out size) : PteValue.None;
            var leafSize = entry.IsNone ? MappingSize.Size4K : size;
            state["hostMapped"] = entry.IsPresent;
            state["hwpoisonEntry"] = entry.IsHwPoison;
            state["huge"] = leafSize == MappingSize.Size2M && (entry.IsPresent || entry.IsHwPoison);
            state["pte"] = entry.ToString();
            var ept = vm.Ept.Lookup(gpa, out var eptSize);
            state["ept"] = !ept.IsNone;
            // Only runs with kvm.hugeEpt can have a 2 MiB EPT leaf, so only their state names it (other runs' output is unchanged).
            if (kernel.Kvm.HugeEpt) state["eptHuge"] = !ept.IsNone && eptSize == MappingSize.Size2M;
        }
        else
        {
            state["hostMapped"] = valid && kernel.Mm.MapCount(pfn) > 0;
            state["hwpoisonEntry"] = false;
            state["huge"] = valid && (flags & FrameFlags.Compound) != 0;
        }
        var owner = valid ? GuestMemoryMap.OwnerOf(kernel, pfn) : VmId.None;
        state["owner"] = owner.IsNone || owner.Value >= kernel.Kvm.VmList.Count ? null : kernel.Kvm.VmList[owner.Value].Info.Name;
        state["lines"] = new Dictionary<string, object?> { ["poisoned"] = valid ? kernel.Memory.PoisonedLineCount(pfn) : 0 };
        state["refcount"] = valid ? kernel.Mm.RefCount(pfn) : 0;
        state["mapcount"] = valid ? kernel.Mm.MapCount(pfn) : 0;
        state["hwpEntryRefs"] = valid ? kernel.Mm.Frames.HwpEntryRefsOf(head) : 0; // references held by hwpoison entries (K27)
        return Outcome.Inspected(state);
    }
}
