using Vmm.Abstractions;

namespace Vmm.Plugins.Thp.LazySplit;

/// <summary>
/// Keeps the compound page and moves only the VMM's mapping between sizes. A range stays PMD-mapped while it is
/// wholly shared; its first private page splits only the PMD (split_huge_pmd, which a pin does not stop), so the
/// policy unmaps that one 4 KiB; when the guest shares a range again and none of its 512 frames is private or
/// PG_hwpoison any more, one PMD is re-installed over the same page without a copy (collapse_pte_mapped_thp).
/// Safe because the PMD comes back only after that check, and any later private page goes through
/// <see cref="PrepareSubpage"/> again before the policy makes it private.
/// </summary>
public sealed class LazySplitStrategy(IThpMechanics thp, IHugePmdMechanics pmd, IFrameMetadata frames, IVmmControl vmm, IKernelLog log) : IHugePageStrategy
{
    private readonly List<(Gfn Gfn, Pfn Pfn)> _frameScratch = [];

    public bool AllowHugeMapping(VmInfo vm) => true;

    public bool PrepareSubpage(VmInfo vm, Hva hva, Pfn pfn)
    {
        if (!thp.IsHugeMapped(hva)) return true;
        if (pmd.SplitHugePmd(hva)) return true;
        log.Warn($"lazy-split: the 2 MiB mapping behind {vm.Name} hva {hva} is not a THP PMD; gfn left as it was");
        return false;
    }

    public void OnShared(VmInfo vm, Hva hva, ulong bytes)
    {
        if (bytes == 0) return;
        var first = (hva.Value - vm.HvaBase.Value) & ~(PageGeometry.HugeSize - 1);
        var end = Math.Min(vm.MemoryBytes, hva.Value - vm.HvaBase.Value + bytes);
        for (var offset = first; offset < end; offset += PageGeometry.HugeSize)
        {
            var range = vm.HvaOf(new Gpa(offset));
            if (pmd.RangeState(range) == HugeRangeState.PteMapped && WhollyShared(vm, offset)) pmd.RemapHugePmd(range);
        }
    }

    /// <summary>No frame of the 2 MiB range at <paramref name="offset"/> is private or poisoned.</summary>
    private bool WhollyShared(VmInfo vm, ulong offset)
    {
        var gfn = offset >> PageGeometry.PageShift;
        _frameScratch.Clear();
        vmm.FramesOf(vm.Id, new Gfn(gfn), new Gfn(gfn + (ulong)PageGeometry.PagesPerHuge), _frameScratch);
        var shared = true;
        foreach (var (_, pfn) in _frameScratch)
            if ((frames.GetFlags(pfn) & (FrameFlags.Private | FrameFlags.HwPoison)) != 0) shared = false;
        _frameScratch.Clear();
        return shared;
    }
}
