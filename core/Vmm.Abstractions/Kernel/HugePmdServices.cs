namespace Vmm.Abstractions;

/// <summary>
/// PMD-level THP mechanics beyond <see cref="IThpMechanics"/> (mm/huge_memory.c, mm/khugepaged.c): what the
/// strategies that keep the compound page use. Every method acts on the VMM's 2 MiB range holding the hva.
/// </summary>
public interface IHugePmdMechanics
{
    /// <summary>split_huge_pmd: the PMD becomes 512 PTEs to the same compound page; never fails for a pin (only split_huge_page does).</summary>
    bool SplitHugePmd(Hva hva);

    /// <summary>
    /// Clears a present THP PMD and leaves a PMD-level hwpoison marker holding the PMD's reference, so the whole
    /// 2 MiB is unmapped as one unit and VMM faults on it report lsb 21 (T3). Linux has no such entry for THP.
    /// </summary>
    bool PoisonHugePmd(Hva hva);

    /// <summary>
    /// Re-installs one PMD over a range whose 512 entries map, in order, the subpages of one compound page none
    /// of which is PG_hwpoison (collapse_pte_mapped_thp without a copy); false when anything else is there.
    /// </summary>
    bool RemapHugePmd(Hva hva);

    /// <summary>The VMM's mapping of the 2 MiB range holding the hva.</summary>
    HugeRangeState RangeState(Hva hva);
}

/// <summary>How the VMM maps one 2 MiB range of guest memory.</summary>
public enum HugeRangeState
{
    /// <summary>Nothing, or 4 KiB entries that do not all map one compound page.</summary>
    Other,
    /// <summary>One present 2 MiB leaf.</summary>
    PmdMapped,
    /// <summary>A PMD-level hwpoison marker (<see cref="IHugePmdMechanics.PoisonHugePmd"/>).</summary>
    PmdMarker,
    /// <summary>512 entries (present or hwpoison) that map, in order, the subpages of one compound page.</summary>
    PteMapped,
}
