namespace Vmm.Abstractions;

/// <summary>Per-frame flags kept in the core's flat per-pfn metadata (struct page flags that matter here).</summary>
[Flags]
public enum FrameFlags : ushort
{
    None = 0,
    /// <summary>PG_hwpoison.</summary>
    HwPoison = 1 << 0,
    /// <summary>Handed out by the allocator.</summary>
    InUse = 1 << 1,
    /// <summary>PG_swapbacked: anon or shmem.</summary>
    SwapBacked = 1 << 2,
    /// <summary>In a file's page cache (shmem, hugetlbfs, regular file, guest_memfd).</summary>
    PageCache = 1 << 3,
    /// <summary>Taken off the allocator for good (memory_failure on a free frame, soft offline, K24 leak).</summary>
    Offlined = 1 << 4,
    /// <summary>Head or tail of a 2 MiB compound page (THP or hugetlb).</summary>
    Compound = 1 << 5,
    /// <summary>hugetlbfs page.</summary>
    Hugetlb = 1 << 6,
    /// <summary>Private to a protected guest (TD-private), as the policy or attribute says.</summary>
    Private = 1 << 7,
    /// <summary>Poison set by a private-memory policy rather than by a memory error.</summary>
    PolicyPoison = 1 << 8,
    /// <summary>A memory error hit this frame (kept apart only when a policy tracks reasons).</summary>
    RealError = 1 << 9,
    /// <summary>The shared zero page.</summary>
    ZeroPage = 1 << 10,
    /// <summary>Page contents differ from backing store (PG_dirty).</summary>
    Dirty = 1 << 11,
    /// <summary>PG_has_hwpoisoned on a THP head: some subpage is poisoned.</summary>
    HasHwPoisoned = 1 << 12,
    /// <summary>PageGuest (PG_arch_2, the May 2021 guest-only series): only the guest may reach the page.</summary>
    Guest = 1 << 13,
}
