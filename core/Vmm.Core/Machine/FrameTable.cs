using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// Per-frame metadata as struct-of-arrays indexed by pfn (the simulator's struct page): flags, refcount,
/// mapcount, pins, owner VM, KeyID, page-cache link and rmap head. Chunks exist only where frames were used.
/// </summary>
internal sealed class FrameTable
{
    private readonly SparseArray<ushort> _flags;
    private readonly SparseArray<int> _refCount;
    private readonly SparseArray<int> _mapCount;
    private readonly SparseArray<int> _pinCount;
    private readonly SparseArray<int> _hwpEntryRefs;
    private readonly SparseArray<short> _owner; // VmId + 1; 0 = none
    private readonly SparseArray<ushort> _key;
    private readonly SparseArray<int> _file; // BackingFile id; 0 = none
    private readonly SparseArray<UInt40> _index; // page index in the file
    private readonly SparseArray<int> _rmapHead;

    /// <summary>The most frames a host may have: 2^34, 64 TiB of 4 KiB frames (every pfn then fits the 40-bit page-cache slots).</summary>
    public const long MaxFrames = 1L << 34;

    public FrameTable(long frameCount)
    {
        if (frameCount is < 1 or > MaxFrames)
            throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount, $"A host has 1 to 2^34 frames (4 KiB to 64 TiB of memory), not {frameCount}.");
        Count = frameCount;
        _flags = new(frameCount);
        _refCount = new(frameCount);
        _mapCount = new(frameCount);
        _pinCount = new(frameCount);
        _hwpEntryRefs = new(frameCount);
        _owner = new(frameCount);
        _key = new(frameCount);
        _file = new(frameCount);
        _index = new(frameCount);
        _rmapHead = new(frameCount);
    }

    public long Count { get; }

    public bool IsValid(Pfn pfn) => pfn.Value < (ulong)Count;

    public FrameFlags Flags(Pfn pfn) => (FrameFlags)_flags.Get(pfn.Value);
    public bool Has(Pfn pfn, FrameFlags flag) => ((FrameFlags)_flags.Get(pfn.Value) & flag) != 0;
    public void SetFlags(Pfn pfn, FrameFlags flags) => _flags.GetRef(pfn.Value) |= (ushort)flags;
    public void ClearFlags(Pfn pfn, FrameFlags flags)
    {
        if (_flags.Get(pfn.Value) != 0) _flags.GetRef(pfn.Value) &= (ushort)~flags;
    }
    public void ResetFlags(Pfn pfn, FrameFlags flags) => _flags.Set(pfn.Value, (ushort)flags);

    public ref int RefCount(Pfn pfn) => ref _refCount.GetRef(pfn.Value);
    public int RefCountOf(Pfn pfn) => _refCount.Get(pfn.Value);
    public ref int MapCount(Pfn pfn) => ref _mapCount.GetRef(pfn.Value);
    public int MapCountOf(Pfn pfn) => _mapCount.Get(pfn.Value);
    public ref int PinCount(Pfn pfn) => ref _pinCount.GetRef(pfn.Value);
    public int PinCountOf(Pfn pfn) => _pinCount.Get(pfn.Value);
    public ref int HwpEntryRefs(Pfn pfn) => ref _hwpEntryRefs.GetRef(pfn.Value);
    public int HwpEntryRefsOf(Pfn pfn) => _hwpEntryRefs.Get(pfn.Value);

    public VmId Owner(Pfn pfn) => new(_owner.Get(pfn.Value) - 1);
    public void SetOwner(Pfn pfn, VmId vm) => _owner.Set(pfn.Value, (short)(vm.Value + 1));

    public KeyId Key(Pfn pfn) => new(_key.Get(pfn.Value));
    public void SetKey(Pfn pfn, KeyId key) => _key.Set(pfn.Value, key.Value);

    public int FileId(Pfn pfn) => _file.Get(pfn.Value);
    public ulong FileIndex(Pfn pfn) => _index.Get(pfn.Value).Value;
    public void SetFile(Pfn pfn, int fileId, ulong index)
    {
        _file.Set(pfn.Value, fileId);
        _index.Set(pfn.Value, new UInt40(index));
    }

    public int RmapHead(Pfn pfn) => _rmapHead.Get(pfn.Value);
    public void SetRmapHead(Pfn pfn, int node) => _rmapHead.Set(pfn.Value, node);

    /// <summary>Clears everything but the flags given (used when a frame returns to the allocator).</summary>
    public void Reset(Pfn pfn, FrameFlags keep)
    {
        ResetFlags(pfn, Flags(pfn) & keep);
        _refCount.Set(pfn.Value, 0);
        _mapCount.Set(pfn.Value, 0);
        _pinCount.Set(pfn.Value, 0);
        _hwpEntryRefs.Set(pfn.Value, 0);
        _owner.Set(pfn.Value, 0);
        _key.Set(pfn.Value, 0);
        _file.Set(pfn.Value, 0);
        _index.Set(pfn.Value, default);
    }

    public long FootprintBytes =>
        _flags.FootprintBytes(2) + _refCount.FootprintBytes(4) + _mapCount.FootprintBytes(4) + _pinCount.FootprintBytes(4)
        + _hwpEntryRefs.FootprintBytes(4) + _owner.FootprintBytes(2) + _key.FootprintBytes(2) + _file.FootprintBytes(4)
        + _index.FootprintBytes(5) + _rmapHead.FootprintBytes(4);
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
        frames.RefCount(ZeroPage) = 1;
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
