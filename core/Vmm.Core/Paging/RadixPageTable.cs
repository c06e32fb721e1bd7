using Vmm.Abstractions;

namespace Vmm.Core.Paging;

/// <summary>
/// x86-64 4-level radix page table (PML4 → PDPT → PD → PT) of 64-bit entries in the hardware layout.
/// A non-leaf entry is present+RW+US and its PFN field holds the index of the next table in this
/// table's pool (simulated tables do not live in simulated DRAM). PD-level leaves are 2 MiB pages.
/// </summary>
public sealed class RadixPageTable : IPageTable
{
    private const int Entries = 512;
    private const ulong TableFlags = PteValue.Present | PteValue.Writable | PteValue.User | PteValue.Accessed;
    private readonly List<ulong[]> _tables = [new ulong[Entries]];
    private readonly Stack<int> _freeTables = new();

    public long TablePages => _tables.Count - _freeTables.Count;
    public int LastWalkDepth { get; private set; }

    private static int Index(ulong va, int level) => (int)((va >> (PageGeometry.PageShift + 9 * level)) & (Entries - 1));

    public PteValue Lookup(ulong va, out MappingSize size)
    {
        size = MappingSize.Size4K;
        var table = _tables[0];
        for (var level = 3; level >= 1; level--)
        {
            var entry = table[Index(va, level)];
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
            table = _tables[(int)value.Pfn.Value];
        }
        LastWalkDepth = 4;
        return new PteValue(table[Index(va, 0)]);
    }

    public void Set(ulong va, PteValue entry, MappingSize size)
    {
        if (size == MappingSize.Size2M && (va & (PageGeometry.HugeSize - 1)) != 0)
            throw new ArgumentException($"A 2 MiB leaf needs a 2 MiB-aligned address, not 0x{va:x}.", nameof(va));
        var stop = size == MappingSize.Size2M ? 1 : 0;
        var table = _tables[0];
        for (var level = 3; level > stop; level--)
        {
            ref var slot = ref table[Index(va, level)];
            if (slot == 0)
            {
                if (entry.IsNone) return;
                slot = NewTable() | TableFlags;
            }
            else if (level == 1 && TableBelow(slot, level) is null)
            {
                throw new InvalidOperationException($"0x{va:x} lies in a 2 MiB leaf; split it (split_huge_pmd) before setting a 4 KiB entry.");
            }
            table = _tables[(int)new PteValue(slot).Pfn.Value];
        }
        ref var leaf = ref table[Index(va, stop)];
        if (stop == 0)
        {
            leaf = entry.Raw;
            return;
        }
        // A 2 MiB leaf replaces whatever table was below (the caller moved its mappings); that table page is freed.
        if (TableBelow(leaf, 1) is { } replaced)
        {
            var index = (int)new PteValue(leaf).Pfn.Value;
            Array.Clear(replaced);
            _freeTables.Push(index);
        }
        leaf = entry.Raw;
    }

    /// <summary>The 4 KiB entries of one PD slot, or null when the slot is a leaf or empty.</summary>
    private ulong[]? TableBelow(ulong entry, int level)
    {
        if (entry == 0) return null;
        var value = new PteValue(entry);
        if (level == 1 && (!value.IsPresent || value.IsHuge)) return null;
        return _tables[(int)value.Pfn.Value];
    }

    public void Visit(ulong start, ulong end, PageTableVisitor visitor)
    {
        if (end <= start) return;
        VisitLevel(_tables[0], 3, 0, start, end - 1, visitor);
    }

    private bool VisitLevel(ulong[] table, int level, ulong baseVa, ulong first, ulong last, PageTableVisitor visitor)
    {
        var shift = PageGeometry.PageShift + 9 * level;
        var span = 1UL << shift;
        var from = first <= baseVa ? 0 : (int)((first - baseVa) >> shift);
        var to = Math.Min(Entries - 1, (int)((last - baseVa) >> shift));
        for (var i = from; i <= to; i++)
        {
            var entry = table[i];
            if (entry == 0) continue;
            var va = baseVa + (ulong)i * span;
            if (level == 0)
            {
                if (!visitor(va, new PteValue(entry), MappingSize.Size4K)) return false;
                continue;
            }
            var below = TableBelow(entry, level);
            if (below is null)
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

    private ulong NewTable()
    {
        if (_freeTables.Count > 0) return (ulong)_freeTables.Pop() << PageGeometry.PageShift;
        _tables.Add(new ulong[Entries]);
        return (ulong)(_tables.Count - 1) << PageGeometry.PageShift;
    }
}

/// <summary>The core's default page-table factory, component "x86-64".</summary>
public sealed class RadixPageTableFactory : IPageTableFactory
{
    public IPageTable Create() => new RadixPageTable();
}
