using System.Runtime.CompilerServices;
using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// The simulator's own cache in front of a host process's semantic <see cref="Tlb"/> and page table, for its user
/// loads and stores (<see cref="Uaccess.TryUserAccess"/>): per virtual page, the present leaf that maps it and, when
/// the memory controller granted them (<see cref="IDirectFrameAccess"/>), the frame's bytes. It models nothing: an
/// entry holds only while its leaf is the page table's and its grant stands. The page table itself tells it of every
/// change to its entries (<see cref="IObservablePageTable"/>, the one writer of the host's page tables), and
/// <see cref="Uaccess"/> flushes it when the controller revokes its grants. An open-addressed table (linear probing,
/// at most half full) that grows with the working set up to <see cref="MaxSlots"/> and then starts over. Lookups
/// allocate nothing.
/// </summary>
internal sealed class HostSoftTlb : IPageTableObserver
{
    internal const int InitialSlots = 256;
    /// <summary>2^20 entries (a 4 GiB working set of 4 KiB pages) in 64 MiB: a VMM touches much more than a vCPU's TLB reach.</summary>
    internal const int MaxSlots = 1 << 21;
    /// <summary>Wider changes flush; a 2 MiB leaf's change (the widest the page table reports) drops its pages one by one, so a THP split or collapse keeps the rest of the working set.</summary>
    internal const int MaxPagesInvalidated = PageGeometry.PagesPerHuge;

    internal const int HugeFlag = 1;
    private const int DirectRead = 2;
    private const int DirectWrite = 4;

    internal struct Entry
    {
        /// <summary>The virtual page number + 1; 0 is an empty slot.</summary>
        public ulong Tag;
        public ulong Leaf;
        public byte[]? Bytes;
        public int Offset;
        public int Flags;

        public readonly PteValue Pte => new(Leaf);
        public readonly bool Huge => (Flags & HugeFlag) != 0;
        public readonly MappingSize Size => Huge ? MappingSize.Size2M : MappingSize.Size4K;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly bool Grants(bool write) => (Flags & (write ? DirectWrite : DirectRead)) != 0;
    }

    private Entry[] _entries = new Entry[InitialSlots];
    // The slots written since the last flush, so that a flush clears those and not the whole table.
    private int[] _written = new int[InitialSlots];
    private int _writtenCount;
    private bool _writtenOverflow;
    private int _count;
    private int _shift = 64 - BitLog(InitialSlots);

    /// <summary>Entries held now.</summary>
    public int Count => _count;
    public int Capacity => _entries.Length;
    /// <summary>Flushes that dropped at least one entry (revoked grants, a full table, a change wider than <see cref="MaxPagesInvalidated"/>).</summary>
    public long Flushes { get; private set; }
    /// <summary>Entries dropped one by one (a change to their page's leaf).</summary>
    public long Invalidations { get; private set; }
    public long Fills { get; private set; }
    /// <summary>Fills that cached a grant of the frame's bytes (for reads, writes or both).</summary>
    public long DirectFills { get; private set; }

    private static int BitLog(int slots) => System.Numerics.BitOperations.Log2((uint)slots);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong tag) => (int)((tag * 0x9E3779B97F4A7C15UL) >> _shift);

    /// <summary>The entry of the page holding <paramref name="va"/>, or a null ref.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref Entry Find(ulong va)
    {
        var tag = (va >> PageGeometry.PageShift) + 1;
        var entries = _entries;
        var mask = entries.Length - 1;
        var i = Home(tag);
        while (true)
        {
            ref var entry = ref entries[i];
            if (entry.Tag == tag) return ref entry;
            if (entry.Tag == 0) return ref Unsafe.NullRef<Entry>();
            i = (i + 1) & mask;
        }
    }

    /// <summary>
    /// Caches the page of <paramref name="va"/> → its present leaf and the bytes granted for reads and for writes (null
    /// when not granted); a write grant counts only when the leaf is writable, so that <see cref="Entry.Grants"/> is the
    /// one check of a direct access.
    /// </summary>
    public void Fill(ulong va, PteValue leaf, MappingSize size, FrameBytes? read, FrameBytes? write)
    {
        if (_count >= _entries.Length / 2)
        {
            if (_entries.Length < MaxSlots) Grow();
            else Flush();
        }
        if (read is { } r && !Holds(r)) read = null;
        if (write is { } w && (!Holds(w) || !leaf.IsWritable || (read is not null && read.Value != w))) write = null;
        var bytes = read ?? write;
        var flags = (size == MappingSize.Size2M ? HugeFlag : 0) | (read is not null ? DirectRead : 0) | (write is not null ? DirectWrite : 0);
        Place(new Entry { Tag = (va >> PageGeometry.PageShift) + 1, Leaf = leaf.Raw, Bytes = bytes?.Array, Offset = bytes?.Offset ?? 0, Flags = flags });
        Fills++;
        if (bytes is not null) DirectFills++;
    }

    // A page of bytes from the offset: direct accesses then copy without a bounds check of their own.
    private static bool Holds(FrameBytes bytes) => bytes.Offset >= 0 && bytes.Offset <= bytes.Array.Length - PageGeometry.PageSize;

    private void Place(in Entry entry)
    {
        var entries = _entries;
        var mask = entries.Length - 1;
        var i = Home(entry.Tag);
        while (entries[i].Tag != 0 && entries[i].Tag != entry.Tag) i = (i + 1) & mask;
        if (entries[i].Tag == 0)
        {
            _count++;
            if (_writtenCount < _written.Length) _written[_writtenCount++] = i;
            else _writtenOverflow = true;
        }
        entries[i] = entry;
    }

    private void Grow()
    {
        var old = _entries;
        _entries = new Entry[old.Length * 2];
        _written = new int[old.Length * 2];
        _shift--;
        _count = 0;
        _writtenCount = 0;
        _writtenOverflow = false;
        foreach (ref var entry in old.AsSpan())
            if (entry.Tag != 0) Place(entry);
    }

    /// <summary>The page table changed entries covering [va, va + bytes): their pages' entries go.</summary>
    public void OnEntriesChanged(ulong va, ulong bytes) => Invalidate(va, bytes);

    /// <summary>Drops the entries of every page in [va, va + bytes).</summary>
    public void Invalidate(ulong va, ulong bytes)
    {
        if (_count == 0 || bytes == 0) return;
        var first = va >> PageGeometry.PageShift;
        var end = bytes <= (ulong)MaxPagesInvalidated * PageGeometry.PageSize ? (va + bytes - 1 >> PageGeometry.PageShift) + 1 : ulong.MaxValue;
        if (end - first > MaxPagesInvalidated)
        {
            Flush();
            return;
        }
        for (var vpn = first; vpn < end && _count != 0; vpn++) Remove(vpn + 1);
    }

    private void Remove(ulong tag)
    {
        var entries = _entries;
        var mask = entries.Length - 1;
        var hole = Home(tag);
        while (entries[hole].Tag != tag)
        {
            if (entries[hole].Tag == 0) return;
            hole = (hole + 1) & mask;
        }
        // Backward-shift deletion: later entries of the run move up so that no lookup stops early at the hole.
        for (var j = (hole + 1) & mask; entries[j].Tag != 0; j = (j + 1) & mask)
        {
            var home = Home(entries[j].Tag);
            if (((j - home) & mask) < ((j - hole) & mask)) continue;
            entries[hole] = entries[j];
            hole = j;
        }
        entries[hole] = default;
        _count--;
        Invalidations++;
    }

    /// <summary>Drops every entry; costs the slots written since the last flush.</summary>
    public void Flush()
    {
        if (_writtenCount == 0 && !_writtenOverflow) return;
        if (_count != 0) Flushes++;
        if (_writtenOverflow) Array.Clear(_entries);
        else
            for (var i = 0; i < _writtenCount; i++) _entries[_written[i]] = default;
        _count = 0;
        _writtenCount = 0;
        _writtenOverflow = false;
    }
}
