namespace Vmm.Abstractions;

// The kernel services a run's components may ask for in their constructors (from the run's service scope).
// Implemented by the core; each is what some plugin uses, nothing more.

/// <summary>Per-frame metadata (struct page flags and the RFC v2 owner map).</summary>
public interface IFrameMetadata
{
    FrameFlags GetFlags(Pfn pfn);
    void SetFlags(Pfn pfn, FrameFlags flags);
    void ClearFlags(Pfn pfn, FrameFlags flags);
    VmId GetOwner(Pfn pfn);
    void SetOwner(Pfn pfn, VmId owner);
}

/// <summary>Rmap-driven unmapping (mm/rmap.c).</summary>
public interface IUnmapService
{
    /// <summary>try_to_unmap: walks the rmap and changes every host mapping of the frame; returns how many changed.</summary>
    int TryToUnmap(Pfn pfn, UnmapFlags flags);
}

/// <summary>THP mechanics of the VMM's address space (mm/huge_memory.c) and the run's huge-page strategy.</summary>
public interface IThpMechanics
{
    /// <summary>True when the VMM maps this hva with a 2 MiB leaf.</summary>
    bool IsHugeMapped(Hva hva);

    /// <summary>split_huge_page: breaks the compound page into base pages; fails when pinned or otherwise referenced beyond its mappings and the caller's one reference on <paramref name="pfn"/>.</summary>
    bool SplitHugePage(Pfn pfn);

    /// <summary>The run's huge-page strategy, or null when no VM asked for THP.</summary>
    IHugePageStrategy? Strategy { get; }
}

/// <summary>The VMM process and its memslots, as KVM sees them.</summary>
public interface IVmmControl
{
    VmInfo GetVm(VmId vm);

    /// <summary>
    /// Appends to <paramref name="into"/>, by ascending gfn, every gfn of [first, end) inside the VM that is backed
    /// by a frame in the VMM's page tables or the backing file. Costs the entries and cached pages present, not
    /// the range's size, so a policy may walk a conversion of any width.
    /// </summary>
    void FramesOf(VmId vm, Gfn first, Gfn end, List<(Gfn Gfn, Pfn Pfn)> into);

    /// <summary>mprotect of a VM's memslot mapping in the VMM: PROT_NONE (true) or read/write (false); existing entries change too.</summary>
    void SetMemslotProtNone(VmId vm, bool protNone);

    /// <summary>Sends SIGBUS to the VMM (send_sig_mceerr from a policy, e.g. to report a real memory error it tracks).</summary>
    void SignalVmm(SigBusCode code, Hva address, int lsb, string reason);
}

/// <summary>The run's warnings (pr_warn), shown with its result.</summary>
public interface IKernelLog
{
    void Warn(string message);
}
