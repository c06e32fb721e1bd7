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

/// <summary>
/// The kernel services a policy or strategy may call: frame metadata, rmap-driven unmapping, THP
/// mechanisms, EPT maintenance, the memory controller and the ledger. Implemented by the core.
/// </summary>
public interface IHostKernel
{
    KernelVersion Version { get; }
    ICostLedger Ledger { get; }
    IMemoryController Memory { get; }
    /// <summary>pid of the VMM process (the one that owns the memslots).</summary>
    int VmmPid { get; }

    VmInfo GetVm(VmId vm);
    IReadOnlyList<VmInfo> Vms { get; }

    FrameFlags GetFlags(Pfn pfn);
    void SetFlags(Pfn pfn, FrameFlags flags);
    void ClearFlags(Pfn pfn, FrameFlags flags);
    VmId GetOwner(Pfn pfn);
    void SetOwner(Pfn pfn, VmId owner);
    int RefCount(Pfn pfn);
    /// <summary>Number of host page-table entries (present or PROT_NONE, 4 KiB or 2 MiB) that map the frame; hwpoison entries do not count, as in Linux.</summary>
    int MapCount(Pfn pfn);
    /// <summary>get_page / put_page. A put that drops the last reference frees the frame (through the policy's OnFree).</summary>
    void GetPage(Pfn pfn);
    void PutPage(Pfn pfn);

    /// <summary>try_to_unmap: walks the rmap and changes every host mapping of the frame; returns how many changed.</summary>
    int TryToUnmap(Pfn pfn, UnmapFlags flags);

    /// <summary>Host process mappings of the frame as (pid, hva) pairs, from the rmap.</summary>
    IReadOnlyList<(int Pid, Hva Hva)> Mappings(Pfn pfn);

    /// <summary>The frame backing a guest page in the VMM's page tables or the backing file, if any.</summary>
    Pfn FrameOf(VmId vm, Gfn gfn);

    /// <summary>
    /// Appends to <paramref name="into"/>, by ascending gfn, every gfn of [first, end) inside the VM for which
    /// <see cref="FrameOf"/> finds a frame. Costs the entries and cached pages present, not the range's size,
    /// so a policy may walk a conversion of any width.
    /// </summary>
    void FramesOf(VmId vm, Gfn first, Gfn end, List<(Gfn Gfn, Pfn Pfn)> into);

    /// <summary>Drops the VM's EPT entry for a gfn (kvm_zap_gfn_range); counted as a shootdown.</summary>
    void ZapEpt(VmId vm, Gfn gfn);

    /// <summary>True when the VMM maps this hva with a 2 MiB leaf.</summary>
    bool IsHugeMapped(int pid, Hva hva);

    /// <summary>split_huge_pmd: replaces one process's 2 MiB leaf with 512 4 KiB entries.</summary>
    bool SplitHugePmd(int pid, Hva hva);

    /// <summary>split_huge_page: breaks the compound page into base pages; fails when pinned or otherwise referenced beyond its mappings and the caller's one reference on <paramref name="pfn"/>.</summary>
    bool SplitHugePage(Pfn pfn);

    /// <summary>mprotect of a VM's memslot mapping in the VMM: PROT_NONE (true) or read/write (false); existing entries change too.</summary>
    void SetVmmMemoryProtNone(VmId vm, bool protNone);

    /// <summary>The run's huge-page strategy, or null when no VM asked for THP.</summary>
    IHugePageStrategy? HugePages { get; }

    /// <summary>Sends SIGBUS to the VMM (send_sig_mceerr from a policy, e.g. to report a real memory error it tracks).</summary>
    void SignalVmm(SigBusCode code, Hva address, int lsb, string reason);

    /// <summary>Logs a warning into the run's output (pr_warn).</summary>
    void Warn(string message);
}
