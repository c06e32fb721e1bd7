using System.Runtime.CompilerServices;
using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// The simulator's own cache in front of a semantic <see cref="Tlb"/> and its page table, like QEMU's softmmu CPUTLB:
/// per page (and, for a VM, access kind: private or shared), the present leaf that maps it and, when the memory
/// controller granted them (<see cref="IDirectFrameAccess"/>), the frame's bytes. It models nothing: an entry holds only
/// while its leaf is the table's and its grant stands. A VM's (in front of its EPT, see <see cref="Kvm"/>) is dropped
/// page by page on every EPT change (<see cref="Invalidate"/>); a host process's (in front of its page table, see
/// <see cref="Uaccess"/>) hears of every change from the page table itself (<see cref="IObservablePageTable"/>, the one
/// writer of the host's page tables). Both are flushed when the controller revokes its grants (<see cref="Flush"/>).
/// An open-addressed table (linear probing, at most half full) that grows with the working set up to
/// <see cref="MaxSlots"/> and then starts over. Lookups allocate nothing.
/// </summary>
internal sealed class SoftTlb : IPageTableObserver
{
    internal const int InitialSlots = 256;
    /// <summary>A VM's cap: 2^19 entries.</summary>
    internal const int GuestMaxSlots = 1 << 20;
    /// <summary>A host process's cap, 2^20 entries (a 4 GiB working set of 4 KiB pages) in 64 MiB: a VMM touches much more than a vCPU's TLB reach.</summary>
    internal const int HostMaxSlots = 1 << 21;
    /// <summary>A VM's ranges wider than this many pages flush everything rather than dropping page by page.</summary>
    internal const int GuestMaxPagesInvalidated = 64;

    /// <summary>A cache of at most <paramref name="maxSlots"/> slots that flushes on a change wider than <paramref name="maxPagesInvalidated"/> pages.</summary>
    public SoftTlb(int maxSlots = GuestMaxSlots, int maxPagesInvalidated = GuestMaxPagesInvalidated)
    {
        if (maxSlots < InitialSlots || !System.Numerics.BitOperations.IsPow2(maxSlots)) throw new ArgumentOutOfRangeException(nameof(maxSlots), maxSlots, "a power of two of at least 256 slots");
        MaxSlots = maxSlots;
        MaxPagesInvalidated = maxPagesInvalidated;
    }

    /// <summary>A host process's: its cap, and a 2 MiB leaf's change (the widest the page table reports) dropped page by page, so a THP split or collapse keeps the rest of the working set.</summary>
    public static SoftTlb ForHost() => new(HostMaxSlots, PageGeometry.PagesPerHuge);

    public int MaxSlots { get; }
    public int MaxPagesInvalidated { get; }

    internal const int HugeFlag = 1;
    private const int DirectRead = 2;
    private const int DirectWrite = 4;

    internal struct Entry
    {
        /// <summary>((page &lt;&lt; 1) | private) + 1; 0 is an empty slot.</summary>
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
    // A private entry was ever filled: only then does an invalidation look for private tags.
    private bool _privateFilled;

    private static int BitLog(int slots) => System.Numerics.BitOperations.Log2((uint)slots);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Tag(ulong page, bool isPrivate) => ((page << 1) | (isPrivate ? 1UL : 0)) + 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong tag) => (int)((tag * 0x9E3779B97F4A7C15UL) >> _shift);

    /// <summary>The entry of (page, kind), or a null ref; a host process's entries are all of the shared kind.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref Entry Find(ulong page, bool isPrivate = false)
    {
        var tag = Tag(page, isPrivate);
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
    /// Caches (page, kind) → the leaf and the bytes granted for reads and for writes (null when not granted); a write
    /// grant counts only when the leaf is writable, so that <see cref="Entry.Grants"/> is the one check of a direct access.
    /// </summary>
    public void Fill(ulong page, bool isPrivate, PteValue leaf, MappingSize size, FrameBytes? read, FrameBytes? write)
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
        Place(new Entry { Tag = Tag(page, isPrivate), Leaf = leaf.Raw, Bytes = bytes?.Array, Offset = bytes?.Offset ?? 0, Flags = flags });
        Fills++;
        if (bytes is not null) DirectFills++;
        _privateFilled |= isPrivate;
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

    /// <summary>The page table changed entries covering [address, address + bytes): their pages' entries go.</summary>
    public void OnEntriesChanged(ulong address, ulong bytes) => Invalidate(address, bytes);

    /// <summary>Drops the entries of every page in [address, address + bytes).</summary>
    public void Invalidate(ulong address, ulong bytes)
    {
        if (_count == 0 || bytes == 0) return;
        var first = address >> PageGeometry.PageShift;
        var end = bytes <= (ulong)MaxPagesInvalidated * PageGeometry.PageSize ? (address + bytes - 1 >> PageGeometry.PageShift) + 1 : ulong.MaxValue;
        if (end - first > (ulong)MaxPagesInvalidated)
        {
            Flush();
            return;
        }
        for (var page = first; page < end && _count != 0; page++)
        {
            Remove(Tag(page, isPrivate: false));
            if (_privateFilled) Remove(Tag(page, isPrivate: true));
        }
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

    /// <summary>
    /// The controller's plain-DRAM access done by a soft TLB's hit, for a frame whose bytes it granted (at
    /// <paramref name="frame"/> in <paramref name="array"/>): its lines charged, the bytes copied, a written frame marked dirty.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyGranted(Costs.CostLedger ledger, FrameTable frames, byte[] array, int frame, int offset, Span<byte> buffer, bool write, Pfn pfn)
    {
        ledger.Add(write ? CostKind.LineWrite : CostKind.LineRead, PageLines.Count(offset, buffer.Length));
        ref var bytes = ref Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array), frame + offset);
        var stored = System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref bytes, buffer.Length);
        if (write)
        {
            buffer.CopyTo(stored);
            frames.SetFlags(pfn, FrameFlags.Dirty);
        }
        else if (buffer.Length == sizeof(ulong))
            Unsafe.WriteUnaligned(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(buffer), Unsafe.ReadUnaligned<ulong>(ref bytes));
        else stored.CopyTo(buffer);
    }
}
