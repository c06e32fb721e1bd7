using Vmm.Abstractions;

namespace Vmm.Core.Paging;

/// <summary>
/// x86-64 4-level radix page table (PML4 → PDPT → PD → PT) of 64-bit entries in the hardware layout.
/// A non-leaf entry is present+RW+US and its PFN field holds the index of the next table in this
/// table's pool (simulated tables do not live in simulated DRAM). PD-level leaves are 2 MiB pages.
/// Storage is compact: each 512-entry table is eight 64-entry blocks in one pooled array, allocated when an
/// entry in them is first set, so a table with one present entry costs one 512 B block instead of 4 KiB;
/// <see cref="TablePages"/> still counts the 4 KiB x86 table pages the hardware would use.
/// <see cref="Set"/> is the only writer of entries (and the only way to <see cref="FreeTable"/>), so it alone tells the <see cref="Observer"/>.
/// </summary>
public sealed class RadixPageTable : IObservablePageTable
{
    private const int Entries = 512;
    private const int BlockShift = 6;
    private const int BlockEntries = 1 << BlockShift;
    private const int BlocksPerTable = Entries / BlockEntries;
    private const ulong TableFlags = PteValue.Present | PteValue.Writable | PteValue.User | PteValue.Accessed;

    /// <summary>Entries, block by block, in segments of <see cref="EntrySegment"/> (the first grows up to that):
    /// the pool grows without copying what it holds, so a large table never needs its old and new storage at
    /// once. Block 0 is never used, so a block number of 0 means "not allocated".</summary>
    private ulong[][] _entries = [new ulong[BlockEntries * 8]];
    /// <summary>Per table, the block numbers of its eight blocks (0 = all of that block's entries are 0), segmented as <see cref="_entries"/>.</summary>
    private int[][] _blocksOf = [new int[BlocksPerTable * 8]];
    private const int EntrySegmentShift = 16;
    private const int EntrySegment = 1 << EntrySegmentShift; // 512 KiB of entries
    private const int BlockMapSegmentShift = 16;
    private const int BlockMapSegment = 1 << BlockMapSegmentShift; // 256 KiB of block numbers
    private int _blockCount = 1;
    private int _tableCount = 1;
    private readonly Stack<int> _freeTables = new();
    private readonly Stack<int> _freeBlocks = new();

    public long TablePages => _tableCount - _freeTables.Count;
    public IPageTableObserver? Observer { get; set; }
    public int LastWalkDepth { get; private set; }

    /// <summary>
    /// The simulator's paging-structure cache (it models nothing; <see cref="LastWalkDepth"/> is the full walk's): per
    /// 2 MiB region recently walked, the PT that maps it, so a lookup or a 4 KiB set there reads one entry instead of
    /// walking four levels. A PT stays a region's until a PD-level write, the only thing that frees or replaces one.
    /// </summary>
    private readonly WalkCacheEntry[] _walkCache = new WalkCacheEntry[WalkCacheSize];
    private const int WalkCacheShift = 6;
    private const int WalkCacheSize = 1 << WalkCacheShift;

    private readonly record struct WalkCacheEntry(ulong Region, int Table);

    // Hashed, so that regions at a power-of-two stride (pages spread evenly over a guest) do not share slots.
    private static int WalkCacheSlot(ulong va) => (int)(((va >> PageGeometry.HugeShift) * 0x9E3779B97F4A7C15UL) >> (64 - WalkCacheShift));

    /// <summary>What the simulator holds for these tables (entries and block maps), in bytes: beside the x86 size <see cref="TablePages"/> × 4 KiB.</summary>
    public long StorageBytes => Capacity(_entries) * sizeof(ulong) + Capacity(_blocksOf) * sizeof(int);

    private static long Capacity<T>(T[][] segments) => (long)(segments.Length - 1) * segments[0].Length + segments[^1].Length;

    private ref int BlockOf(int table, int part)
    {
        var at = table * BlocksPerTable + part;
        return ref _blocksOf[at >> BlockMapSegmentShift][at & (BlockMapSegment - 1)];
    }

    private ref ulong EntryIn(int block, int index)
    {
        var at = (block << BlockShift) + index;
        return ref _entries[at >> EntrySegmentShift][at & (EntrySegment - 1)];
    }

    private static int Index(ulong va, int level) => (int)((va >> (PageGeometry.PageShift + 9 * level)) & (Entries - 1));

    private ulong Entry(int table, int index)
    {
        var block = BlockOf(table, index >> BlockShift);
        return block == 0 ? 0 : EntryIn(block, index & (BlockEntries - 1));
    }

    /// <summary>The entry's slot, allocating its block.</summary>
    private ref ulong Slot(int table, int index)
    {
        ref var block = ref BlockOf(table, index >> BlockShift);
        if (block == 0) block = NewBlock();
        return ref EntryIn(block, index & (BlockEntries - 1));
    }

    public PteValue Lookup(ulong va, out MappingSize size)
    {
        size = MappingSize.Size4K;
        ref var cached = ref _walkCache[WalkCacheSlot(va)];
        if (cached.Region == (va >> PageGeometry.HugeShift) + 1)
        {
            LastWalkDepth = 4;
            return new PteValue(Entry(cached.Table, Index(va, 0)));
        }
        var table = 0;
        for (var level = 3; level >= 1; level--)
        {
            var entry = Entry(table, Index(va, level));
            if (entry == 0)
            {
                LastWalkDepth = 4 - level;
                return PteValue.None;
            }
            var value = new PteValue(entry);
            if (level == 1 && (!value.IsPresent || value.IsHuge))
            {
                LastWalkDepth = 3;
                size = MappingSize.Size2M;
                return value;
            }
            table = (int)value.Pfn.Value;
        }
        cached = new WalkCacheEntry((va >> PageGeometry.HugeShift) + 1, table);
        LastWalkDepth = 4;
        return new PteValue(Entry(table, Index(va, 0)));
    }

    /// <summary>Writes the leaf, then tells the <see cref="Observer"/>: every path of <see cref="Write"/> (the walk cache's too) is covered.</summary>
    public void Set(ulong va, PteValue entry, MappingSize size)
    {
        Write(va, entry, size);
        if (Observer is { } observer)
        {
            var bytes = size == MappingSize.Size2M ? PageGeometry.HugeSize : PageGeometry.PageSize;
            observer.OnEntriesChanged(va & ~(bytes - 1), bytes);
        }
    }

    private void Write(ulong va, PteValue entry, MappingSize size)
    {
        if (size == MappingSize.Size2M && (va & (PageGeometry.HugeSize - 1)) != 0)
            throw new ArgumentException($"A 2 MiB leaf needs a 2 MiB-aligned address, not 0x{va:x}.", nameof(va));
        var stop = size == MappingSize.Size2M ? 1 : 0;
        ref var cached = ref _walkCache[WalkCacheSlot(va)];
        if (stop == 0 && cached.Region == (va >> PageGeometry.HugeShift) + 1)
        {
            SetLeaf(cached.Table, Index(va, 0), entry);
            return;
        }
        if (stop == 1 && cached.Region == (va >> PageGeometry.HugeShift) + 1) cached = default; // the PT below may go
        var table = 0;
        for (var level = 3; level > stop; level--)
        {
            var index = Index(va, level);
            var slot = Entry(table, index);
            if (slot == 0)
            {
                if (entry.IsNone) return;
                var child = NewTable(); // before taking the slot: a new table may grow the pools
                slot = ((ulong)child << PageGeometry.PageShift) | TableFlags;
                Slot(table, index) = slot;
            }
            else if (level == 1 && TableBelow(slot, level) < 0)
            {
                throw new InvalidOperationException($"0x{va:x} lies in a 2 MiB leaf; split it (split_huge_pmd) before setting a 4 KiB entry.");
            }
            table = (int)new PteValue(slot).Pfn.Value;
        }
        var leafIndex = Index(va, stop);
        if (stop == 0)
        {
            cached = new WalkCacheEntry((va >> PageGeometry.HugeShift) + 1, table); // the walk just found (or made) the region's PT
            SetLeaf(table, leafIndex, entry);
            return;
        }
        var old = Entry(table, leafIndex);
        if (old == 0 && entry.IsNone) return; // nothing to clear: no block is allocated for it
        if (TableBelow(old, 1) is var replaced and >= 0)
            FreeTable(replaced); // a 2 MiB leaf replaces whatever table was below (the caller moved its mappings)
        Slot(table, leafIndex) = entry.Raw;
    }

    private void SetLeaf(int table, int index, PteValue entry)
    {
        if (entry.IsNone && Entry(table, index) == 0) return; // nothing to clear: no block is allocated for it
        Slot(table, index) = entry.Raw;
    }

    /// <summary>The table one PD slot points to, or -1 when the slot is a leaf or empty.</summary>
    private static int TableBelow(ulong entry, int level)
    {
        if (entry == 0) return -1;
        var value = new PteValue(entry);
        if (level == 1 && (!value.IsPresent || value.IsHuge)) return -1;
        return (int)value.Pfn.Value;
    }

    public void Visit(ulong start, ulong end, PageTableVisitor visitor)
    {
        if (end <= start) return;
        VisitLevel(0, 3, 0, start, end - 1, visitor);
    }

    private bool VisitLevel(int table, int level, ulong baseVa, ulong first, ulong last, PageTableVisitor visitor)
    {
        var shift = PageGeometry.PageShift + 9 * level;
        var span = 1UL << shift;
        var from = first <= baseVa ? 0 : (int)((first - baseVa) >> shift);
        var to = Math.Min(Entries - 1, (int)((last - baseVa) >> shift));
        for (var i = from; i <= to; i++)
        {
            var block = BlockOf(table, i >> BlockShift);
            if (block == 0)
            {
                i |= BlockEntries - 1; // the whole block is empty: on to the next one
                continue;
            }
            var entry = EntryIn(block, i & (BlockEntries - 1));
            if (entry == 0) continue;
            var va = baseVa + (ulong)i * span;
            if (level == 0)
            {
                if (!visitor(va, new PteValue(entry), MappingSize.Size4K)) return false;
                continue;
            }
            var below = TableBelow(entry, level);
            if (below < 0)
            {
                if (!visitor(va, new PteValue(entry), MappingSize.Size2M)) return false;
                continue;
            }
            var childFirst = Math.Max(first, va);
            var childLast = Math.Min(last, va + span - 1);
            if (!VisitLevel(below, level - 1, va, childFirst, childLast, visitor)) return false;
        }
        return true;
    }

    private int NewTable()
    {
        if (_freeTables.Count > 0) return _freeTables.Pop();
        Reserve(ref _blocksOf, (long)(_tableCount + 1) * BlocksPerTable, BlockMapSegmentShift);
        return _tableCount++;
    }

    private int NewBlock()
    {
        if (_freeBlocks.Count > 0) return _freeBlocks.Pop();
        if (_blockCount >= int.MaxValue >> BlockShift) throw new InvalidOperationException("A page table holds at most 2^25 blocks of 64 entries (16 GiB of entries).");
        Reserve(ref _entries, (long)(_blockCount + 1) * BlockEntries, EntrySegmentShift);
        return _blockCount++;
    }

    /// <summary>
    /// Room for <paramref name="needed"/> items: the first segment grows by half (block-aligned) up to a whole
    /// segment, so small tables stay small; after that, whole segments are added and nothing is copied.
    /// </summary>
    private static void Reserve<T>(ref T[][] segments, long needed, int segmentShift)
    {
        var segment = 1 << segmentShift;
        if (needed <= Capacity(segments)) return;
        if (segments.Length == 1 && segments[0].Length < segment)
        {
            var length = segments[0].Length;
            Array.Resize(ref segments[0], Math.Min(segment, length + Math.Max(length / 2 / BlockEntries, 1) * BlockEntries));
            return;
        }
        Array.Resize(ref segments, segments.Length + 1);
        segments[^1] = new T[segment];
    }
    /// <summary>Returns a table and its blocks to the pools, cleared (only a PT a 2 MiB leaf replaced, whose mappings the caller moved).</summary>
    private void FreeTable(int table)
    {
        for (var b = 0; b < BlocksPerTable; b++)
        {
            ref var block = ref BlockOf(table, b);
            if (block == 0) continue;
            var at = block << BlockShift; // a block never straddles two segments
            _entries[at >> EntrySegmentShift].AsSpan(at & (EntrySegment - 1), BlockEntries).Clear();
            _freeBlocks.Push(block);
            block = 0;
        }
        _freeTables.Push(table);
    }
}

/// <summary>The core's default page-table factory, component "x86-64".</summary>
public sealed class RadixPageTableFactory : IPageTableFactory
{
    public IPageTable Create() => new RadixPageTable();
}
