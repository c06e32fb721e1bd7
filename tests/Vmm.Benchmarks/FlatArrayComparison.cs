using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;

namespace Vmm.Benchmarks;

/// <summary>
/// The shared half of the access benchmarks: the address pattern, the random guest contents, and the
/// baseline that reads the same addresses from a flat byte[].
/// </summary>
public abstract class FlatArrayComparison
{
    protected const ulong VmBytes = 64UL << 20;
    protected readonly byte[] Destination = new byte[8];
    protected ulong[] Offsets = [];
    protected byte[] Flat = [];

    [Params(AccessPattern.TlbHit, AccessPattern.FullWalk)]
    public AccessPattern Pattern { get; set; }

    /// <summary>Picks the pattern's offsets and fills <see cref="Flat"/> with the bytes the simulator gets too.</summary>
    protected void PrepareFlat()
    {
        Offsets = AccessPatterns.Offsets(Pattern);
        Flat = new byte[VmBytes];
        new Random(42).NextBytes(Flat);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = AccessPatterns.AccessesPerInvoke)]
    public ulong FlatArray()
    {
        var flat = Flat;
        var destination = Destination.AsSpan();
        var sum = 0UL;
        foreach (var offset in Offsets)
        {
            flat.AsSpan((int)offset, 8).CopyTo(destination);
            sum ^= BinaryPrimitives.ReadUInt64LittleEndian(destination);
        }
        return sum;
    }
}
