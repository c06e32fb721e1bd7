using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// Per-frame metadata indexed by pfn (the simulator's struct page). What every used frame has sits in one
/// 10-byte <see cref="FrameEntry"/>: flags, refcount and mapcount (a byte each; a count outside 0..254 moves to
/// an overflow table, exact as an int), and the rmap word (the frame's single mapping inline, else the head of
/// its rmap nodes). What few frames have lives in side tables whose chunks exist only where written: pins,
/// hwpoison entry references, owner VM, KeyID and page-cache link. So a touched anon frame costs 10 bytes
/// here; chunks of 1024 frames exist only where frames were used.
/// </summary>
internal sealed class FrameTable
{
    /// <summary>log2 of the frames per chunk: 1024 frames, 10 KiB of entries, so sparse use wastes little.</summary>
    private const int ChunkShift = 10;
    /// <summary>An inline count of this value means the count is in the overflow table.</summary>
    private const byte CountEscape = byte.MaxValue;

    private readonly SparseArray<FrameEntry> _entries;
    private readonly Dictionary<ulong, int> _refOverflow = [];
    private readonly Dictionary<ulong, int> _mapOverflow = [];
    private readonly SparseArray<int> _pinCount;
    private readonly SparseArray<int> _hwpEntryRefs;
    private readonly SparseArray<short> _owner; // VmId + 1; 0 = none
    private readonly SparseArray<ushort> _key;
    private readonly SparseArray<int> _file; // BackingFile id; 0 = none
    private readonly SparseArray<UInt40> _index; // page index in the file
    // A hugetlb page's page-cache link, once per 2 MiB run as Linux keeps it in the folio (a tail's index is the head's plus its offset).
    private readonly SparseArray<int> _runFile;
    private readonly SparseArray<UInt40> _runIndex;

    /// <summary>The most frames a host may have: 2^34, 64 TiB of 4 KiB frames (every pfn then fits the 40-bit page-cache slots).</summary>
    public const long MaxFrames = 1L << 34;

    public FrameTable(long frameCount)
    {
        if (frameCount is < 1 or > MaxFrames)
            throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount, $"A host has 1 to 2^34 frames (4 KiB to 64 TiB of memory), not {frameCount}.");
        Count = frameCount;
        _entries = new(frameCount, ChunkShift);
        _pinCount = new(frameCount, ChunkShift);
        _hwpEntryRefs = new(frameCount, ChunkShift);
        _owner = new(frameCount, ChunkShift);
        _key = new(frameCount, ChunkShift);
        _file = new(frameCount, ChunkShift);
        _index = new(frameCount, ChunkShift);
        _runFile = new((frameCount + PageGeometry.PagesPerHuge - 1) >> RunShift, ChunkShift);
        _runIndex = new((frameCount + PageGeometry.PagesPerHuge - 1) >> RunShift, ChunkShift);
    }

    /// <summary>log2 of the frames of a 2 MiB run.</summary>
    private const int RunShift = 9;

    public long Count { get; }

    public bool IsValid(Pfn pfn) => pfn.Value < (ulong)Count;

    public FrameFlags Flags(Pfn pfn) => (FrameFlags)_entries.Get(pfn.Value).Flags;
    public bool Has(Pfn pfn, FrameFlags flag) => ((FrameFlags)_entries.Get(pfn.Value).Flags & flag) != 0;
    public void SetFlags(Pfn pfn, FrameFlags flags) => _entries.GetRef(pfn.Value).Flags |= (ushort)flags;
    public void ClearFlags(Pfn pfn, FrameFlags flags)
    {
        ref var entry = ref ExistingEntry(pfn);
        if (!Unsafe.IsNullRef(ref entry)) entry.Flags &= (ushort)~flags;
    }
    public void ResetFlags(Pfn pfn, FrameFlags flags)
    {
        ref var entry = ref flags == 0 ? ref ExistingEntry(pfn) : ref _entries.GetRef(pfn.Value);
        if (!Unsafe.IsNullRef(ref entry)) entry.Flags = (ushort)flags;
    }

    public int RefCountOf(Pfn pfn) => ReadCount(_entries.Get(pfn.Value).Ref, _refOverflow, pfn);
    public void SetRefCount(Pfn pfn, int count)
    {
        ref var entry = ref count == 0 ? ref ExistingEntry(pfn) : ref _entries.GetRef(pfn.Value);
        if (!Unsafe.IsNullRef(ref entry)) WriteCount(ref entry.Ref, _refOverflow, pfn, count);
    }
    /// <summary>Adds <paramref name="delta"/> to the refcount and returns the new count.</summary>
    public int AddRefCount(Pfn pfn, int delta)
    {
        ref var entry = ref _entries.GetRef(pfn.Value);
        var count = ReadCount(entry.Ref, _refOverflow, pfn) + delta;
        WriteCount(ref entry.Ref, _refOverflow, pfn, count);
        return count;
    }

    public int MapCountOf(Pfn pfn) => ReadCount(_entries.Get(pfn.Value).Map, _mapOverflow, pfn);
    /// <summary>Adds <paramref name="delta"/> to the mapcount and returns the new count.</summary>
    public int AddMapCount(Pfn pfn, int delta)
    {
        ref var entry = ref _entries.GetRef(pfn.Value);
        var count = ReadCount(entry.Map, _mapOverflow, pfn) + delta;
        WriteCount(ref entry.Map, _mapOverflow, pfn, count);
        return count;
    }

    public ref int PinCount(Pfn pfn) => ref _pinCount.GetRef(pfn.Value);
    public int PinCountOf(Pfn pfn) => _pinCount.Get(pfn.Value);
    public ref int HwpEntryRefs(Pfn pfn) => ref _hwpEntryRefs.GetRef(pfn.Value);
    public int HwpEntryRefsOf(Pfn pfn) => _hwpEntryRefs.Get(pfn.Value);

    public VmId Owner(Pfn pfn) => new(_owner.Get(pfn.Value) - 1);
    public void SetOwner(Pfn pfn, VmId vm) => _owner.Set(pfn.Value, (short)(vm.Value + 1));

    public KeyId Key(Pfn pfn) => new(_key.Get(pfn.Value));
    public void SetKey(Pfn pfn, KeyId key) => _key.Set(pfn.Value, key.Value);

    public int FileId(Pfn pfn) => InHugetlbRun(pfn) ? _runFile.Get(pfn.Value >> RunShift) : _file.Get(pfn.Value);

    public ulong FileIndex(Pfn pfn)
    {
        if (!InHugetlbRun(pfn)) return _index.Get(pfn.Value).Value;
        var run = pfn.Value >> RunShift;
        return _runFile.Get(run) == 0 ? 0 : _runIndex.Get(run).Value + (pfn.Value & (PageGeometry.PagesPerHuge - 1));
    }

    /// <summary>The frame's page-cache link; a hugetlb page's is written through its head, and a tail's own write is implied by it.</summary>
    public void SetFile(Pfn pfn, int fileId, ulong index)
    {
        if (InHugetlbRun(pfn))
        {
            if ((pfn.Value & (PageGeometry.PagesPerHuge - 1)) != 0) return;
            _runFile.Set(pfn.Value >> RunShift, fileId);
            _runIndex.Set(pfn.Value >> RunShift, new UInt40(index));
            return;
        }
        _file.Set(pfn.Value, fileId);
        _index.Set(pfn.Value, new UInt40(index));
    }

    /// <summary>A frame of a hugetlb page (a compound hugetlb run), whose page-cache link is the run's.</summary>
    private bool InHugetlbRun(Pfn pfn) => (Flags(pfn) & (FrameFlags.Hugetlb | FrameFlags.Compound)) == (FrameFlags.Hugetlb | FrameFlags.Compound);

    /// <summary>The frame's rmap word, which only <see cref="Rmap"/> reads: 0 when unmapped.</summary>
    public ulong RmapWord(Pfn pfn) => _entries.Get(pfn.Value).Rmap;
    public void SetRmapWord(Pfn pfn, ulong word)
    {
        ref var entry = ref word == 0 ? ref ExistingEntry(pfn) : ref _entries.GetRef(pfn.Value);
        if (!Unsafe.IsNullRef(ref entry)) entry.Rmap = word;
    }

    /// <summary>Clears everything but the flags given and the rmap (used when a frame returns to the allocator).</summary>
    public void Reset(Pfn pfn, FrameFlags keep)
    {
        ResetFlags(pfn, Flags(pfn) & keep);
        SetRefCount(pfn, 0);
        ref var entry = ref ExistingEntry(pfn);
        if (!Unsafe.IsNullRef(ref entry)) WriteCount(ref entry.Map, _mapOverflow, pfn, 0);
        _pinCount.Set(pfn.Value, 0);
        _hwpEntryRefs.Set(pfn.Value, 0);
        _owner.Set(pfn.Value, 0);
        _key.Set(pfn.Value, 0);
        _file.Set(pfn.Value, 0);
        _index.Set(pfn.Value, default);
        if ((pfn.Value & (PageGeometry.PagesPerHuge - 1)) == 0)
        {
            _runFile.Set(pfn.Value >> RunShift, 0);
            _runIndex.Set(pfn.Value >> RunShift, default);
        }
    }

    /// <summary>Frames whose refcount or mapcount is outside 0..254, so held in the overflow tables.</summary>
    public int OverflowedCounts => _refOverflow.Count + _mapOverflow.Count;

    public long FootprintBytes =>
        _entries.FootprintBytes(Unsafe.SizeOf<FrameEntry>()) + OverflowBytes(_refOverflow) + OverflowBytes(_mapOverflow)
        + _pinCount.FootprintBytes(4) + _hwpEntryRefs.FootprintBytes(4) + _owner.FootprintBytes(2) + _key.FootprintBytes(2)
        + _file.FootprintBytes(4) + _index.FootprintBytes(5) + _runFile.FootprintBytes(4) + _runIndex.FootprintBytes(5);

    /// <summary>The entry of a frame whose chunk exists, else a null reference (writing zero needs no chunk); throws past the end like the writes that allocate.</summary>
    private ref FrameEntry ExistingEntry(Pfn pfn)
    {
        if (pfn.Value >= (ulong)Count)
            throw new ArgumentOutOfRangeException(nameof(pfn), pfn.Value, $"Index 0x{pfn.Value:x} is past the end of a sparse array of 0x{Count:x} entries.");
        return ref _entries.GetRefIfPresent(pfn.Value);
    }

    private static int ReadCount(byte inline, Dictionary<ulong, int> overflow, Pfn pfn) => inline == CountEscape ? overflow[pfn.Value] : inline;

    private static void WriteCount(ref byte inline, Dictionary<ulong, int> overflow, Pfn pfn, int count)
    {
        if ((uint)count < CountEscape)
        {
            if (inline == CountEscape) overflow.Remove(pfn.Value);
            inline = (byte)count;
        }
        else
        {
            overflow[pfn.Value] = count;
            inline = CountEscape;
        }
    }

    /// <summary>A dictionary entry (hash, next, key, value) and its bucket, per slot of capacity.</summary>
    private static long OverflowBytes(Dictionary<ulong, int> overflow) => overflow.EnsureCapacity(0) * (24L + 4);
}

/// <summary>What every used frame has, packed: 10 bytes per pfn (see <see cref="FrameTable"/>).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 2)]
internal struct FrameEntry : IEquatable<FrameEntry>
{
    private uint _rmapLow;
    public ushort Flags;
    private ushort _rmapHigh;
    /// <summary>The refcount, or the escape value when it is in the overflow table.</summary>
    public byte Ref;
    /// <summary>The mapcount, or the escape value.</summary>
    public byte Map;

    /// <summary>48 bits: 0 = unmapped; the encoding is <see cref="Rmap"/>'s.</summary>
    public ulong Rmap
    {
        readonly get => _rmapLow | (ulong)_rmapHigh << 32;
        set
        {
            if (value >> 48 != 0) throw new ArgumentOutOfRangeException(nameof(value), value, $"An rmap word has 48 bits, not 0x{value:x}.");
            _rmapLow = (uint)value;
            _rmapHigh = (ushort)(value >> 32);
        }
    }

    public readonly bool Equals(FrameEntry other)
        => _rmapLow == other._rmapLow && Flags == other.Flags && _rmapHigh == other._rmapHigh && Ref == other.Ref && Map == other.Map;
    public override readonly bool Equals(object? obj) => obj is FrameEntry other && Equals(other);
    public override readonly int GetHashCode() => HashCode.Combine(_rmapLow, Flags, _rmapHigh, Ref, Map);
}

/// <summary>
/// The page allocator: 4 KiB frames come from a free stack, else a bump pointer from the bottom; 2 MiB
/// compound pages from an aligned bump pointer from the top. Frame 0 is the shared zero page.
/// Never-used frames cost nothing, so a 1 TiB host is as cheap as a small one until touched.
/// </summary>
internal sealed class FrameAllocator
{
    private readonly FrameTable _frames;
    private ulong[] _free = new ulong[64];
    private int _freeCount;
    private ulong[] _freeHuge = new ulong[8];
    private int _freeHugeCount;
    private ulong _nextLow = 1;
    private ulong _nextHigh;

    public FrameAllocator(FrameTable frames)
    {
        _frames = frames;
        _nextHigh = (ulong)frames.Count & ~(ulong)(PageGeometry.PagesPerHuge - 1);
        frames.SetFlags(ZeroPage, FrameFlags.ZeroPage | FrameFlags.InUse);
        frames.SetRefCount(ZeroPage, 1);
    }

    public static readonly Pfn ZeroPage = new(0);

    public long AllocatedFrames { get; private set; } = 1;

    /// <summary>The most frames in use at once so far (the zero page included).</summary>
    public long PeakAllocatedFrames { get; private set; } = 1;

    public Pfn Allocate()
    {
        while (_freeCount > 0)
        {
            var pfn = new Pfn(_free[--_freeCount]);
            // A freed THP's frames are on this stack and its run on the huge stack: skip whichever was taken since.
            if (_frames.Has(pfn, FrameFlags.Offlined | FrameFlags.InUse)) continue;
            return Take(pfn);
        }
        while (_nextLow < _nextHigh)
        {
            var pfn = new Pfn(_nextLow++);
            if (_frames.Has(pfn, FrameFlags.Offlined)) continue;
            return Take(pfn);
        }
        return Pfn.Invalid;
    }

    /// <summary>A 2 MiB-aligned run of 512 frames, marked Compound; Pfn.Invalid when none is left.</summary>
    public Pfn AllocateHuge()
    {
        Pfn head = Pfn.Invalid;
        while (_freeHugeCount > 0 && !head.IsValid)
        {
            var candidate = new Pfn(_freeHuge[--_freeHugeCount]);
            if (RunIsUsable(candidate)) head = candidate;
        }
        while (!head.IsValid)
        {
            if (_nextHigh < (ulong)PageGeometry.PagesPerHuge || _nextHigh - (ulong)PageGeometry.PagesPerHuge < _nextLow) return Pfn.Invalid;
            _nextHigh -= (ulong)PageGeometry.PagesPerHuge;
            var candidate = new Pfn(_nextHigh);
            if (RunIsUsable(candidate)) head = candidate;
        }
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
        {
            var pfn = head.Add(i);
            Take(pfn);
            _frames.SetFlags(pfn, FrameFlags.Compound);
        }
        return head;
    }

    private bool RunIsUsable(Pfn head)
    {
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            if (_frames.Has(head.Add(i), FrameFlags.Offlined | FrameFlags.InUse)) return false;
        return true;
    }

    private Pfn Take(Pfn pfn)
    {
        _frames.ResetFlags(pfn, FrameFlags.InUse);
        AllocatedFrames++;
        if (AllocatedFrames > PeakAllocatedFrames) PeakAllocatedFrames = AllocatedFrames;
        return pfn;
    }

    /// <summary>Returns a frame (its metadata already reset) to the free stack.</summary>
    public void Free(Pfn pfn)
    {
        _frames.ResetFlags(pfn, _frames.Flags(pfn) & ~FrameFlags.InUse);
        AllocatedFrames--;
        if (_freeCount == _free.Length) Array.Resize(ref _free, _free.Length * 2);
        _free[_freeCount++] = pfn.Value;
    }

    /// <summary>Returns a whole compound run whose frames were all freed.</summary>
    public void FreeHugeRun(Pfn head)
    {
        // The frames went back one by one; reclaim them as one run for the next huge allocation.
        if (_freeHugeCount == _freeHuge.Length) Array.Resize(ref _freeHuge, _freeHuge.Length * 2);
        _freeHuge[_freeHugeCount++] = head.Value;
    }

    /// <summary>K17: take a free frame out of the allocator for good (take_page_off_buddy).</summary>
    public void TakeOff(Pfn pfn) => _frames.SetFlags(pfn, FrameFlags.Offlined);

    public bool IsFree(Pfn pfn) => !_frames.Has(pfn, FrameFlags.InUse);
}
