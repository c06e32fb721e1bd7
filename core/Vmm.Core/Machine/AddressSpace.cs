using Vmm.Abstractions;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Machine;

internal enum VmaKind
{
    Anon,
    Shmem,
    Hugetlb,
    File,
}

/// <summary>A vm_area_struct: [Start, End) of one mapping in a host process.</summary>
internal sealed class Vma
{
    public required ulong Start { get; set; }
    public required ulong End { get; set; }
    public required VmaKind Kind { get; init; }
    public BackingFile? File { get; init; }
    /// <summary>vm_pgoff: the file page index at <see cref="Start"/>.</summary>
    public ulong PgOff { get; set; }
    public bool Writable { get; init; } = true;
    /// <summary>MAP_SHARED (shmem, hugetlbfs and file mappings of guest memory are shared).</summary>
    public bool Shared { get; init; }
    /// <summary>PROT_NONE (the 2020 VM_KVM_PROTECTED series).</summary>
    public bool ProtNone { get; set; }
    /// <summary>VM_GUEST (mprotect PROT_GUEST, the May 2021 guest-only series): the VMA stays read/write; its pages become PageGuest and are mapped PAGE_NONE.</summary>
    public bool Guest { get; set; }
    /// <summary>The VMM's stores here are bounced through the kernel (<see cref="VmmProtection.ReadOnlyBounced"/>).</summary>
    public bool BounceWrites { get; set; }
    /// <summary>VM_HUGEPAGE (MADV_HUGEPAGE, or THP "always" for a VM with thp: true).</summary>
    public bool HugePage { get; set; }
    /// <summary>VM_NOHUGEPAGE.</summary>
    public bool NoHugePage { get; set; }
    /// <summary>The VM whose memslot this mapping backs, if any.</summary>
    public VmId Vm { get; init; } = VmId.None;

    public bool Contains(ulong va) => va >= Start && va < End;
    public ulong FileIndex(ulong va) => PgOff + ((va - Start) >> PageGeometry.PageShift);

    public Vma CloneRange(ulong start, ulong end) => new()
    {
        Start = start,
        End = end,
        Kind = Kind,
        File = File,
        PgOff = PgOff + ((start - Start) >> PageGeometry.PageShift),
        Writable = Writable,
        Shared = Shared,
        ProtNone = ProtNone,
        Guest = Guest,
        BounceWrites = BounceWrites,
        HugePage = HugePage,
        NoHugePage = NoHugePage,
        Vm = Vm,
    };
}

/// <summary>A host process: its VMAs, its page tables and its TLB (an mm_struct with one task).</summary>
internal sealed class Process
{
    public Process(int pid, string name, IPageTable pageTable)
    {
        Pid = pid;
        Name = name;
        PageTable = pageTable;
        // A table that reports its changes gets the cache; it must be this process's alone, as the one observer.
        if (pageTable is IObservablePageTable { Observer: null } observable)
        {
            SoftTlb = SoftTlb.ForHost();
            observable.Observer = SoftTlb;
        }
    }

    public int Pid { get; }
    public string Name { get; }
    public IPageTable PageTable { get; }
    public Tlb Tlb { get; } = new();
    /// <summary>The simulator's cache of <see cref="PageTable"/>'s leaves for user accesses (no behaviour of its own), or null when the table does not report its changes.</summary>
    public SoftTlb? SoftTlb { get; }
    public List<Vma> Vmas { get; } = [];
    public bool Alive { get; set; } = true;
    /// <summary>TASK_SIZE with 4-level paging: user addresses lie below 2^47.</summary>
    public const ulong UserSpaceEnd = 0x8000_0000_0000UL;

    /// <summary>Where the VMM's mappings start: the VMs from here upward, 1 TiB up to <see cref="UserSpaceEnd"/>.</summary>
    public const ulong MmapBase = 0x7f00_0000_0000UL;

    /// <summary>Next free address for a new mapping (grows upward, 1 GiB-aligned, never past <see cref="UserSpaceEnd"/>).</summary>
    public ulong MmapCursor { get; set; } = MmapBase;

    /// <summary>Lowest VM placed below <see cref="MmapBase"/> (grows downward; <see cref="MmapBase"/> while there is none).</summary>
    public ulong MmapLowCursor { get; set; } = MmapBase;

    public Vma? FindVma(ulong va)
    {
        foreach (var vma in Vmas)
            if (vma.Contains(va)) return vma;
        return null;
    }

    /// <summary>
    /// Places a new mapping of <paramref name="bytes"/> at the cursor and moves the cursor to the next 1 GiB
    /// boundary; false (mmap's ENOMEM) when it would not end inside user space.
    /// </summary>
    public bool TryReserveRange(ulong bytes, out ulong start)
    {
        var up = MmapCursor;
        if (!ScenarioLimits.TryPlaceAbove(ref up, bytes, out start)) return false;
        MmapCursor = up;
        return true;
    }

    /// <summary>Places a VM's memory (<see cref="ScenarioLimits.TryPlaceVmMapping"/>): above the base while it fits, else below it.</summary>
    public bool TryReserveVmRange(ulong bytes, out ulong start)
    {
        ulong up = MmapCursor, down = MmapLowCursor;
        if (!ScenarioLimits.TryPlaceVmMapping(ref up, ref down, bytes, out start)) return false;
        (MmapCursor, MmapLowCursor) = (up, down);
        return true;
    }

    public void AddVma(Vma vma)
    {
        var at = Vmas.FindIndex(v => v.Start > vma.Start);
        if (at < 0) Vmas.Add(vma);
        else Vmas.Insert(at, vma);
    }
}

/// <summary>
/// A file whose pages the VMM can map: shmem/memfd, hugetlbfs, a regular file, or a guest_memfd.
/// Its page cache maps page index → pfn sparsely (hugetlbfs stores the head at the 2 MiB-aligned index).
/// </summary>
internal sealed class BackingFile
{
    // pfn + 1 (0 = not cached) in 40 bits: every pfn of a 64 TiB host fits, at 5 bytes a page.
    private readonly SparseArray<UInt40> _cache;

    public BackingFile(int id, string name, BackingKind kind, ulong sizeBytes, VmId vm)
    {
        Id = id;
        Name = name;
        Kind = kind;
        SizeBytes = sizeBytes;
        Vm = vm;
        if (sizeBytes >> PageGeometry.PageShift > FrameTable.MaxFrames)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, $"A backing file holds at most 64 TiB, not 0x{sizeBytes:x} bytes.");
        _cache = new SparseArray<UInt40>((long)(sizeBytes >> PageGeometry.PageShift));
    }

    public int Id { get; }
    public string Name { get; }
    public BackingKind Kind { get; }
    public ulong SizeBytes { get; }
    public ulong Pages => SizeBytes >> PageGeometry.PageShift;
    public VmId Vm { get; }
    public bool IsHugetlb => Kind == BackingKind.Hugetlb;
    /// <summary>No descriptor is open any more (vm.destroy closed it); the pages go when the last mapping does.</summary>
    public bool Closed { get; set; }

    public Pfn Lookup(ulong index)
    {
        if (index >= Pages) return Pfn.Invalid;
        var v = _cache.Get(index).Value;
        return v == 0 ? Pfn.Invalid : new Pfn(v - 1);
    }

    public void Insert(ulong index, Pfn pfn) => _cache.Set(index, new UInt40(pfn.Value + 1));

    public void Remove(ulong index) => _cache.Set(index, default);

    /// <summary>Indexes in [start, end) that hold a page (hugetlbfs: the 2 MiB-aligned head indexes); costs the cached chunks, not the range.</summary>
    public List<ulong> CachedIndexes(ulong start, ulong end) => _cache.NonDefaultIndexes(start, Math.Min(end, Pages));

    /// <summary><see cref="CachedIndexes"/> appended to a caller's list (allocation-free once the list has grown).</summary>
    public void CollectCachedIndexes(ulong start, ulong end, List<ulong> into) => _cache.CollectNonDefaultIndexes(start, Math.Min(end, Pages), into);

    /// <summary>Directory pages and chunks of the cache that <see cref="CachedIndexes"/> has looked at.</summary>
    public long ScannedBlocks => _cache.ScannedBlocks;
}
