namespace Vmm.Abstractions;

/// <summary>Counted events; each has a modelled cost in nanoseconds in the cost table.</summary>
public enum CostKind
{
    PageFault,
    PageWalk,
    TlbHit,
    TlbMiss,
    TlbShootdown,
    EptFault,
    EptWalk,
    Gup,
    LineRead,
    LineWrite,
    MacCompute,
    LineReinit,
    CacheFlush,
    Conversion,
    Signal,
    MemoryFailure,
    RmapWalk,
    Unmap,
    ThpSplit,
    ThpSplitFailed,
    ThpCollapse,
    ThpPmdRemap,
    FrameAlloc,
    FrameFree,
    PageCopy,
    MachineCheck,
    Hypercall,
    VmExit,
    DmaTransfer,
    /// <summary>RMPUPDATE of one RMP entry (SEV-SNP assign or return).</summary>
    RmpUpdate,
    /// <summary>PSMASH: a 2 MiB RMP entry split into 512 4 KiB entries.</summary>
    Psmash,
    /// <summary>The host kernel splits its 2 MiB direct map around a page it assigns to a guest (SEV-SNP).</summary>
    DirectMapSplit,
    /// <summary>A poisoned frame whose last reference went and that never returned to the allocator (K24).</summary>
    FrameLeaked,
    /// <summary>A frame the page cache let go that stays allocated only because hwpoison entries hold references to it (K27 under RFC v2).</summary>
    FrameKeptByHwpEntry,
    /// <summary>kvm->mmu_lock taken for write on the EPT fault path (the RFC's gfn_is_shared); the TDP MMU's own fault path takes it for read.</summary>
    MmuLockWrite,
    /// <summary>A VMM store to guest memory bounced through the kernel (one system call: copy_from_user into a kernel buffer, then the write through the kernel's mapping).</summary>
    BouncedWrite,
}

/// <summary>The run's cost ledger: counters and modelled time. Add is allocation-free.</summary>
public interface ICostLedger
{
    void Add(CostKind kind, long count = 1);
    long Count(CostKind kind);
    /// <summary>Modelled time of everything counted so far, in nanoseconds.</summary>
    double ModelledNanoseconds { get; }
}
