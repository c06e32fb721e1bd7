using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Machine;
using Vmm.Plugins.Tdx;
using Vmm.Plugins.Tdx.Li;

namespace Vmm.Benchmarks;

/// <summary>
/// The `tdxli-random` row at the controller: 8-byte TD-private reads at random over 64 MiB of accepted,
/// written frames under tdx-li (owner-bit check, KeyID compare, contents), against a flat byte[] with the
/// same index sequence.
/// </summary>
[MemoryDiagnoser]
public class TdxLiReadBenchmarks
{
    private const int Frames = 16384;
    private const int Accesses = 4096;

    private readonly byte[] _destination = new byte[8];
    private ulong[] _offsets = [];
    private byte[] _flat = [];
    private TdxLiMemoryController _controller = null!;
    private KeyId _key;

    [GlobalSetup]
    public void Setup()
    {
        _flat = new byte[(long)Frames * PageGeometry.PageSize];
        new Random(42).NextBytes(_flat);
        var random = new Random(7);
        _offsets = [.. Enumerable.Range(0, Accesses).Select(_ => (ulong)random.NextInt64(_flat.Length / 8) * 8)];
        _controller = new TdxLiMemoryController(new TdxOptions(), new PhysicalMemory(Frames), new CostLedger());
        _key = _controller.AssignPrivateKey(new VmId(0));
        for (var pfn = 0; pfn < Frames; pfn++)
        {
            _controller.Reinitialize(new Pfn((ulong)pfn), _key);
            if (!_controller.Write(new LineAccess(new Pfn((ulong)pfn), 0, _key, Requester.Guest), _flat.AsSpan(pfn * PageGeometry.PageSize, PageGeometry.PageSize)).IsOk)
                throw new InvalidOperationException($"the TD's write to frame {pfn} failed");
        }
        if (TdxLiRead() != FlatArray()) throw new InvalidOperationException("tdx-li reads differ from the flat array");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Accesses)]
    public ulong FlatArray()
    {
        var flat = _flat;
        var destination = _destination.AsSpan();
        var sum = 0UL;
        foreach (var offset in _offsets)
        {
            flat.AsSpan((int)offset, 8).CopyTo(destination);
            sum ^= BinaryPrimitives.ReadUInt64LittleEndian(destination);
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Accesses)]
    public ulong TdxLiRead()
    {
        var controller = _controller;
        var destination = _destination.AsSpan();
        var sum = 0UL;
        foreach (var offset in _offsets)
        {
            var access = new LineAccess(new Pfn(offset >> PageGeometry.PageShift), (int)(offset & (PageGeometry.PageSize - 1)), _key, Requester.Guest);
            if (!controller.Read(access, destination).IsOk) throw new InvalidOperationException("a TD-private read failed");
            sum ^= BinaryPrimitives.ReadUInt64LittleEndian(destination);
        }
        return sum;
    }
}
