using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// DRAM contents: a frame gets a 4 KiB slot on first write; untouched frames read as zeros. Slots are carved from
/// 1 MiB slabs and a discarded frame's slot is reused, so contents cost a 4-byte slot number per frame beside
/// their 4 KiB, not an object each. One per run scope, so the memory controller takes it in its constructor; the
/// run's <see cref="HostKernel"/> sizes it when built.
/// </summary>
public sealed class PhysicalMemory : IPhysicalMemory
{
    private const int SlabShift = 8;
    private const int FramesPerSlab = 1 << SlabShift;

    private SparseArray<int>? _frames; // slot + 1; 0 = no contents
    private byte[][] _slabs = [];
    private int _slabCount;
    private int _freshSlots; // slots handed out at least once
    private int[] _freeSlots = [];
    private int _freeCount;

    /// <summary>Contents to be sized by the machine that owns them (<see cref="Bind"/>).</summary>
    public PhysicalMemory()
    {
    }

    /// <summary>Contents of <paramref name="frameCount"/> frames, for a controller used without a machine.</summary>
    public PhysicalMemory(long frameCount) => Bind(frameCount);

    internal void Bind(long frameCount)
    {
        if (_frames is not null) throw new InvalidOperationException("These contents already belong to a machine: a run's physical memory serves one machine.");
        if (frameCount is < 1 or > FrameTable.MaxFrames)
            throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount, $"A host has 1 to 2^34 frames (4 KiB to 64 TiB of memory), not {frameCount}.");
        _frames = new SparseArray<int>(frameCount, chunkShift: 10);
    }

    private SparseArray<int> Frames => _frames ?? throw new InvalidOperationException("Physical memory was used before the run's machine was built (from a component's constructor?).");

    /// <summary>Frames that hold a buffer.</summary>
    public long MaterializedFrames { get; private set; }

    public ReadOnlySpan<byte> Peek(Pfn pfn)
    {
        var slot = Frames.Get(pfn.Value) - 1;
        return slot < 0 ? default : Slot(slot);
    }

    public Span<byte> Materialize(Pfn pfn)
    {
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
        var slot = Frames.Get(pfn.Value) - 1;
        bytes = slot < 0 ? default : new FrameBytes(_slabs[slot >> SlabShift], (slot & (FramesPerSlab - 1)) << PageGeometry.PageShift);
        return slot >= 0; // valid until Discard frees the slot for reuse
    }

    public void Discard(Pfn pfn)
    {
        var slot = Frames.Get(pfn.Value) - 1;
        if (slot < 0) return;
        _frames!.Set(pfn.Value, 0);
        if (_freeCount == _freeSlots.Length) Array.Resize(ref _freeSlots, Math.Max(64, _freeSlots.Length * 2));
        _freeSlots[_freeCount++] = slot;
        MaterializedFrames--;
    }

    /// <summary>Bytes of host memory the simulator spends on contents and their directory.</summary>
    public long FootprintBytes
        => Frames.FootprintBytes(sizeof(int)) + (long)_slabs.Length * IntPtr.Size + _slabCount * ((long)FramesPerSlab * PageGeometry.PageSize + 24)
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
}
