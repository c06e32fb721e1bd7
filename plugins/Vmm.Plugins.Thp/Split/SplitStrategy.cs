using Vmm.Abstractions;

namespace Vmm.Plugins.Thp.Split;

/// <summary>
/// T1: when one 4 KiB frame of a 2 MiB THP is about to become private or poisoned, split the THP
/// (split_huge_page: every PMD mapping becomes 512 PTEs, the compound page becomes base pages) so the
/// policy acts on that one PTE. A pinned THP cannot be split: as in memory_failure (K16, v5.16) nothing
/// is changed, and the policy's guest fault fails.
/// </summary>
public sealed class SplitStrategy(IThpMechanics thp, IKernelLog log) : IHugePageStrategy
{
    public bool AllowHugeMapping(VmInfo vm) => true;

    public bool PrepareSubpage(VmInfo vm, Hva hva, Pfn pfn) => ThpSplitting.SplitFor(thp, log, "split", vm, hva, pfn);
}

/// <summary>The split both strategies use when a frame inside a THP must be handled on its own.</summary>
internal static class ThpSplitting
{
    public static bool SplitFor(IThpMechanics thp, IKernelLog log, string strategy, VmInfo vm, Hva hva, Pfn pfn)
    {
        if (!thp.IsHugeMapped(hva)) return true;
        if (thp.SplitHugePage(pfn)) return true;
        log.Warn($"{strategy}: the THP behind {vm.Name} hva {hva} is pinned and cannot be split; gfn left as it was");
        return false;
    }
}
