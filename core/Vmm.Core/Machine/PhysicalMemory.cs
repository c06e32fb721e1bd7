using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>DRAM contents: a frame gets a 4 KiB buffer on first write; untouched frames read as zeros.</summary>
public sealed class PhysicalMemory : IPhysicalMemory
{
    private readonly SparseArray<byte[]?> _frames;

    public PhysicalMemory(long frameCount)
    {
        if (frameCount is < 1 or > FrameTable.MaxFrames)
            throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount, $"A host has 1 to 2^34 frames (4 KiB to 64 TiB of memory), not {frameCount}.");
        FrameCount = frameCount;
        _frames = new SparseArray<byte[]?>(frameCount);
    }

    public long FrameCount { get; }

    /// <summary>Frames that hold a buffer.</summary>
    public long MaterializedFrames { get; private set; }

    public ReadOnlySpan<byte> Peek(Pfn pfn) => _frames.Get(pfn.Value);

    public Span<byte> Materialize(Pfn pfn)
    {
        ref var frame = ref _frames.GetRef(pfn.Value);
        if (frame is null)
        {
            frame = new byte[PageGeometry.PageSize];
            MaterializedFrames++;
        }
        return frame;
    }

    public void Discard(Pfn pfn)
    {
        if (_frames.Get(pfn.Value) is null) return;
        _frames.Set(pfn.Value, null);
        MaterializedFrames--;
    }

    /// <summary>Bytes of host memory the simulator spends on contents and their directory.</summary>
    public long FootprintBytes => _frames.FootprintBytes(IntPtr.Size) + MaterializedFrames * (PageGeometry.PageSize + 24L);
}
