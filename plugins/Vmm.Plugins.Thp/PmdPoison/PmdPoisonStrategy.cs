using Vmm.Abstractions;

namespace Vmm.Plugins.Thp.PmdPoison;

/// <summary>
/// T3: the 2 MiB is one unit. The first private page of a huge-mapped range clears the PMD and leaves a PMD-level
/// hwpoison marker (<see cref="IHugePmdMechanics.PoisonHugePmd"/>), and the policy makes all 512 frames private
/// together, so any VMM touch of the range reports lsb 21. Nothing is split and a pin does not matter. When the
/// guest shares part of it, the VMM's next touch of a shared page turns the marker into PTEs: hwpoison entries for
/// the frames still private, present ones for the rest (one page-table page, counted as a split).
/// </summary>
public sealed class PmdPoisonStrategy(IThpMechanics thp, IHugePmdMechanics pmd, IKernelLog log) : IHugePageStrategy
{
    public bool AllowHugeMapping(VmInfo vm) => true;

    public bool PrepareSubpage(VmInfo vm, Hva hva, Pfn pfn)
    {
        if (!thp.IsHugeMapped(hva)) return true;
        if (pmd.PoisonHugePmd(hva)) return true;
        log.Warn($"pmd-poison: the 2 MiB mapping behind {vm.Name} hva {hva} is not a THP PMD; gfn left as it was");
        return false;
    }

    public int PrivateUnitPages(VmInfo vm) => PageGeometry.PagesPerHuge;
}
