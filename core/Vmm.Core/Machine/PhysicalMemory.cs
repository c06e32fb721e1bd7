using Vmm.Abstractions;
using Vmm.Core.Engine;

namespace Vmm.Core.Machine;

/// <summary>
/// DRAM contents: a frame gets a 4 KiB slot on first write; untouched frames read as zeros. Slots are carved from
/// 1 MiB slabs and a discarded frame's slot is reused, so contents cost a 4-byte slot number per frame beside
/// their 4 KiB, not an object each. One per run scope, so the memory controller takes it in its constructor; the
/// run's <see cref="HostKernel"/> sizes it when built.
/// Contents-free (<see cref="ContentsFree()"/>): one bit per frame says whether a normal run would hold its bytes, so
/// every decision made on "was this frame ever written" (a copy counted or not) is the normal run's; the bytes are not kept.
/// </summary>
public sealed class PhysicalMemory : IPhysicalMemory
{
    private const int SlabShift = 8;
    private const int FramesPerSlab = 1 << SlabShift;
    private static readonly byte[] Zeros = new byte[PageGeometry.PageSize];

    private SparseArray<int>? _frames; // slot + 1; 0 = no contents
    private byte[][] _slabs = [];
    private int _slabCount;
    private int _freshSlots; // slots handed out at least once
    private int[] _freeSlots = [];
    private int _freeCount;
    private SparseArray<ulong>? _written;
    private readonly byte[]? _scratch;

    /// <summary>Contents to be sized by the machine that owns them (<see cref="Bind"/>).</summary>
    public PhysicalMemory()
    {
    }

    /// <summary>Contents of <paramref name="frameCount"/> frames, for a controller used without a machine.</summary>
    public PhysicalMemory(long frameCount) => Bind(frameCount);

    private PhysicalMemory(byte[] scratch) => _scratch = scratch;

    /// <summary>Contents-free memory (option <c>memory.contents</c> "none"), to be sized by its machine: written frames read as zeros, writes land in one scratch page.</summary>
    public static PhysicalMemory ContentsFree() => new(new byte[PageGeometry.PageSize]);

    /// <summary>Contents-free memory of <paramref name="frameCount"/> frames, for a controller used without a machine.</summary>
    public static PhysicalMemory ContentsFree(long frameCount)
    {
        var memory = ContentsFree();
        memory.Bind(frameCount);
        return memory;
    }

    /// <summary>Memory as the run's <see cref="MemoryOptions"/> ask: full, or contents-free.</summary>
    public static PhysicalMemory For(MemoryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.ContentsFree ? ContentsFree() : new PhysicalMemory();
    }

    internal void Bind(long frameCount)
    {
        if (_frames is not null || _written is not null) throw new InvalidOperationException("These contents already belong to a machine: a run's physical memory serves one machine.");
        if (frameCount is < 1 or > FrameTable.MaxFrames)
            throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount, $"A host has 1 to 2^34 frames (4 KiB to 64 TiB of memory), not {frameCount}.");
        if (_scratch is null) _frames = new SparseArray<int>(frameCount, chunkShift: 10);
        else _written = new SparseArray<ulong>((frameCount + 63) >> 6);
    }

    private SparseArray<int> Frames => _frames ?? throw Unbound();

    private SparseArray<ulong> Written => _written ?? throw Unbound();

    private static InvalidOperationException Unbound() => new("Physical memory was used before the run's machine was built (from a component's constructor?).");

    public bool KeepsContents => _scratch is null;

    /// <summary>Frames that hold a buffer (contents-free: that would hold one).</summary>
    public long MaterializedFrames { get; private set; }

    public ReadOnlySpan<byte> Peek(Pfn pfn)
    {
        if (_scratch is not null) return (Written.Get(pfn.Value >> 6) & (1UL << (int)(pfn.Value & 63))) != 0 ? Zeros : default;
        var slot = Frames.Get(pfn.Value) - 1;
        return slot < 0 ? default : Slot(slot);
    }

    public Span<byte> Materialize(Pfn pfn)
    {
        if (_scratch is not null) return MarkWritten(pfn);
        ref var slot = ref Frames.GetRef(pfn.Value);
        if (slot == 0)
        {
            slot = TakeSlot() + 1;
            MaterializedFrames++;
        }
        return Slot(slot - 1);
    }

    public bool TryGetStorage(Pfn pfn, out FrameBytes bytes)
    {
        var slot = _scratch is null ? Frames.Get(pfn.Value) - 1 : -1; // contents-free: no frame has bytes of its own
        bytes = slot < 0 ? default : new FrameBytes(_slabs[slot >> SlabShift], (slot & (FramesPerSlab - 1)) << PageGeometry.PageShift);
        return slot >= 0; // valid until Discard frees the slot for reuse
    }

    public void Discard(Pfn pfn)
    {
        if (_scratch is not null)
        {
            var word = Written.Get(pfn.Value >> 6);
            var bit = 1UL << (int)(pfn.Value & 63);
            if ((word & bit) == 0) return;
            _written!.Set(pfn.Value >> 6, word & ~bit);
            MaterializedFrames--;
            return;
        }
        var slot = Frames.Get(pfn.Value) - 1;
        if (slot < 0) return;
        _frames!.Set(pfn.Value, 0);
        if (_freeCount == _freeSlots.Length) Array.Resize(ref _freeSlots, Math.Max(64, _freeSlots.Length * 2));
        _freeSlots[_freeCount++] = slot;
        MaterializedFrames--;
    }

    /// <summary>Bytes of host memory the simulator spends on contents and their directory (contents-free: the written bits).</summary>
    public long FootprintBytes => _scratch is not null
        ? Written.FootprintBytes(sizeof(ulong)) + _scratch.Length
        : Frames.FootprintBytes(sizeof(int)) + (long)_slabs.Length * IntPtr.Size + _slabCount * ((long)FramesPerSlab * PageGeometry.PageSize + 24)
            + (long)_freeSlots.Length * sizeof(int);

    private Span<byte> Slot(int slot) => _slabs[slot >> SlabShift].AsSpan((slot & (FramesPerSlab - 1)) << PageGeometry.PageShift, PageGeometry.PageSize);

    /// <summary>A zeroed slot: a discarded one first, as a freshly written frame reads zeros before its write.</summary>
    private int TakeSlot()
    {
        if (_freeCount > 0)
        {
            var reused = _freeSlots[--_freeCount];
            Slot(reused).Clear();
            return reused;
        }
        if (_freshSlots == int.MaxValue - 1)
            throw new InvalidOperationException("Physical memory holds at most 2^31 - 2 frames of contents (8 TiB).");
        if (_freshSlots == _slabCount << SlabShift)
        {
            if (_slabCount == _slabs.Length) Array.Resize(ref _slabs, Math.Max(4, _slabs.Length * 2));
            _slabs[_slabCount++] = new byte[FramesPerSlab * PageGeometry.PageSize];
        }
        return _freshSlots++;
    }

    // Every frame's writes land in the one scratch page and are dropped; only the frame's written bit stays.
    private byte[] MarkWritten(Pfn pfn)
    {
        ref var word = ref Written.GetRef(pfn.Value >> 6);
        var bit = 1UL << (int)(pfn.Value & 63);
        if ((word & bit) == 0)
        {
            word |= bit;
            MaterializedFrames++;
        }
        return _scratch!;
    }
}
