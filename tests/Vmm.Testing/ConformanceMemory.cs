using Vmm.Abstractions;

namespace Vmm.Testing;

/// <summary>
/// The smallest machine a memory controller needs: DRAM frames materialised on first write and a ledger that
/// counts. Kept apart from the core's so a controller is checked against the contract, not against one host. A
/// controller takes it as both of its constructor services (<see cref="ConformanceHost.CreateMemoryController"/>).
/// </summary>
public sealed class ConformanceMemory(long frameCount = 64) : IPhysicalMemory, ICostLedger
{
    private readonly Dictionary<ulong, byte[]> _frames = [];
    private readonly long[] _counts = new long[Enum.GetValues<CostKind>().Length];

    public long FrameCount { get; } = frameCount;

    /// <summary>The raw DRAM bytes of a frame as the controller stored them (zeros when never written).</summary>
    public byte[] Raw(Pfn pfn) => _frames.TryGetValue(pfn.Value, out var frame) ? (byte[])frame.Clone() : new byte[PageGeometry.PageSize];

    public ReadOnlySpan<byte> Peek(Pfn pfn)
    {
        Check(pfn);
        return _frames.TryGetValue(pfn.Value, out var frame) ? frame : [];
    }

    public Span<byte> Materialize(Pfn pfn)
    {
        Check(pfn);
        if (!_frames.TryGetValue(pfn.Value, out var frame))
        {
            frame = new byte[PageGeometry.PageSize];
            _frames[pfn.Value] = frame;
        }
        return frame;
    }

    public void Discard(Pfn pfn)
    {
        Check(pfn);
        _frames.Remove(pfn.Value);
    }

    public void Add(CostKind kind, long count = 1) => _counts[(int)kind] += count;

    public long Count(CostKind kind) => _counts[(int)kind];

    /// <summary>No cost table here: the suite checks behaviour, not modelled time.</summary>
    public double ModelledNanoseconds => 0;

    private void Check(Pfn pfn)
    {
        if (pfn.Value >= (ulong)FrameCount)
            throw new ArgumentOutOfRangeException(nameof(pfn), pfn, $"the conformance machine has {FrameCount} frames");
    }
}
