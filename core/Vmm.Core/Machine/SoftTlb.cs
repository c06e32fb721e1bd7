using System.Runtime.CompilerServices;
using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// The simulator's own cache in front of a VM's semantic <see cref="Tlb"/> and EPT, like QEMU's softmmu CPUTLB:
/// per gfn and access kind (private or shared), the present EPT leaf that maps it and, when the memory controller
/// granted them (<see cref="IDirectFrameAccess"/>), the frame's bytes. It models nothing: an entry holds only while
/// its leaf is the EPT's and its grant stands, so <see cref="Kvm"/> drops it on every EPT change of its gfn
/// (<see cref="Invalidate"/>) and drops everything when the controller revokes its grants (<see cref="Flush"/>).
/// An open-addressed table (linear probing, at most half full) that grows with the working set up to
/// <see cref="MaxSlots"/> and then starts over. Lookups allocate nothing.
/// </summary>
internal sealed class SoftTlb
{
    internal const int InitialSlots = 256;
    internal const int MaxSlots = 1 << 20;
    /// <summary>Ranges wider than this many pages flush everything rather than dropping page by page.</summary>
    internal const int MaxPagesInvalidated = 64;

    internal const int HugeFlag = 1;
    private const int DirectRead = 2;
    private const int DirectWrite = 4;

    internal struct Entry
    {
        /// <summary>((gfn &lt;&lt; 1) | private) + 1; 0 is an empty slot.</summary>
        public ulong Tag;
        public ulong Leaf;
        public byte[]? Bytes;
        public int Offset;
        public int Flags;

        public readonly PteValue Pte => new(Leaf);
        public readonly MappingSize Size => (Flags & HugeFlag) != 0 ? MappingSize.Size2M : MappingSize.Size4K;

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
    /// <summary>Flushes that dropped at least one entry.</summary>
    public long Flushes { get; private set; }
    /// <summary>Entries dropped one by one (an EPT change of their gfn).</summary>
    public long Invalidations { get; private set; }
    public long Fills { get; private set; }

    private static int BitLog(int slots) => System.Numerics.BitOperations.Log2((uint)slots);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Tag(ulong gfn, bool isPrivate) => ((gfn << 1) | (isPrivate ? 1UL : 0)) + 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong tag) => (int)((tag * 0x9E3779B97F4A7C15UL) >> _shift);

    /// <summary>The entry of (gfn, kind), or a null ref.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref Entry Find(ulong gfn, bool isPrivate)
    {
        var tag = Tag(gfn, isPrivate);
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
    /// Caches (gfn, kind) → the leaf and the bytes granted for reads and for writes (null when not granted); a write
    /// grant counts only when the leaf is writable, so that <see cref="Entry.Grants"/> is the one check of a direct access.
    /// </summary>
    public void Fill(ulong gfn, bool isPrivate, PteValue leaf, MappingSize size, FrameBytes? read, FrameBytes? write)
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
        Place(new Entry { Tag = Tag(gfn, isPrivate), Leaf = leaf.Raw, Bytes = bytes?.Array, Offset = bytes?.Offset ?? 0, Flags = flags });
        Fills++;
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

    /// <summary>Drops the entries of every gfn in [gpa, gpa + bytes).</summary>
    public void Invalidate(ulong gpa, ulong bytes)
    {
        if (_count == 0 || bytes == 0) return;
        var first = gpa >> PageGeometry.PageShift;
        var end = (gpa + bytes - 1 >> PageGeometry.PageShift) + 1;
        if (end - first > MaxPagesInvalidated)
        {
            Flush();
            return;
        }
        for (var gfn = first; gfn < end; gfn++)
        {
            Remove(Tag(gfn, isPrivate: false));
            Remove(Tag(gfn, isPrivate: true));
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
}
