namespace Vmm.Abstractions;

/// <summary>try_to_unmap flags (mm/rmap.c), reduced to what the policies need.</summary>
[Flags]
public enum UnmapFlags
{
    None = 0,
    /// <summary>Replace each PTE with a hwpoison swap entry (TTU_HWPOISON; the v5.x default when PG_hwp).</summary>
    HwPoison = 1 << 0,
    /// <summary>TTU_SPLIT_HUGE_PMD: split a PMD mapping first instead of refusing.</summary>
    SplitHugePmd = 1 << 1,
    /// <summary>With <see cref="HwPoison"/>: the hwpoison entry keeps the mapping's page reference (RFC v2); zap drops it.</summary>
    KeepReference = 1 << 2,
}
