using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// DRAM contents: a frame gets a 4 KiB buffer on first write; untouched frames read as zeros. One per run scope,
/// so the memory controller takes it in its constructor; the run's <see cref="HostKernel"/> sizes it when built.
/// </summary>
public sealed class PhysicalMemory : IPhysicalMemory
{
    private SparseArray<byte[]?>? _frames;

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
        _frames = new SparseArray<byte[]?>(frameCount);
    }

    private SparseArray<byte[]?> Frames => _frames ?? throw new InvalidOperationException("Physical memory was used before the run's machine was built (from a component's constructor?).");

    /// <summary>Frames that hold a buffer.</summary>
    public long MaterializedFrames { get; private set; }

    public ReadOnlySpan<byte> Peek(Pfn pfn) => Frames.Get(pfn.Value);

    public Span<byte> Materialize(Pfn pfn)
    {
        ref var frame = ref Frames.GetRef(pfn.Value);
        if (frame is null)
        {
            frame = new byte[PageGeometry.PageSize];
            MaterializedFrames++;
        }
        return frame;
    }

    public bool TryGetStorage(Pfn pfn, out FrameBytes bytes)
    {
        var frame = Frames.Get(pfn.Value);
        bytes = frame is null ? default : new FrameBytes(frame, 0);
        return frame is not null;
    }

    public void Discard(Pfn pfn)
    {
        if (Frames.Get(pfn.Value) is null) return;
        _frames!.Set(pfn.Value, null);
        MaterializedFrames--;
    }

    /// <summary>Bytes of host memory the simulator spends on contents and their directory.</summary>
    public long FootprintBytes => Frames.FootprintBytes(IntPtr.Size) + MaterializedFrames * (PageGeometry.PageSize + 24L);
}
