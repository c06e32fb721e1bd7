using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Vmm.Abstractions;

namespace Vmm.Benchmarks;

/// <summary>Order of the guest loads over the touched pages.</summary>
public enum LoadOrder
{
    /// <summary>Each load picks a touched page and an 8-byte word in it at random.</summary>
    Random,
    /// <summary>Touched pages in random order, every word of a page in turn.</summary>
    SequentialWithinPages,
}

/// <summary>
/// The `guest-random` and `guest-seq` rows: 8-byte vCPU loads (guest.read through the EPT, memory plain)
/// over a 64 GiB guest with <see cref="TouchedMiB"/> touched at random pages, against a flat byte[] of the
/// touched size read with the same index sequence. The loads outnumber the caches, so random ones miss.
/// </summary>
[MemoryDiagnoser]
public class GuestLoadBenchmarks
{
    public const ulong GuestBytes = 64UL << 30;
    public const int Loads = 1 << 18;
    private const int WordsPerPage = PageGeometry.PageSize / 8;

    /// <summary>The touched size runs get; the smoke test and the quick target mode lower it to keep setup cheap.</summary>
    public static int TouchedMiBForRuns { get; set; } = 1024;

    public static IEnumerable<int> TouchedSizes() => [TouchedMiBForRuns];

    private readonly byte[] _destination = new byte[8];
    private byte[] _flat = [];
    private long[] _flatOffsets = [];
    private ulong[] _gpas = [];
    private GuestPort _guest;

    [ParamsSource(nameof(TouchedSizes))]
    public int TouchedMiB { get; set; }

    [Params(LoadOrder.Random, LoadOrder.SequentialWithinPages)]
    public LoadOrder Order { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var pages = TouchedMiB * 256;
        var random = new Random(42);
        var chosen = new HashSet<ulong>();
        while (chosen.Count < pages) chosen.Add((ulong)random.NextInt64((long)(GuestBytes / PageGeometry.PageSize)));
        var pageGpas = chosen.Select(page => page * PageGeometry.PageSize).ToArray();
        _flat = new byte[(long)pages * PageGeometry.PageSize];
        new Random(43).NextBytes(_flat);
        var simulation = BenchMachine.Create(GuestBytes);
        _guest = GuestPort.Of(simulation);
        for (var i = 0; i < pages; i++) _guest.Write(pageGpas[i], _flat.AsSpan(i * PageGeometry.PageSize, PageGeometry.PageSize));

        _flatOffsets = new long[Loads];
        _gpas = new ulong[Loads];
        var order = Enumerable.Range(0, pages).ToArray();
        random.Shuffle(order);
        for (var k = 0; k < Loads; k++)
        {
            var (page, word) = Order == LoadOrder.Random
                ? (random.Next(pages), random.Next(WordsPerPage))
                : (order[k / WordsPerPage % pages], k % WordsPerPage);
            _flatOffsets[k] = (long)page * PageGeometry.PageSize + word * 8;
            _gpas[k] = pageGpas[page] + (ulong)word * 8;
        }
        if (GuestLoad() != FlatArray()) throw new InvalidOperationException("the guest loads returned other bytes than the flat array");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Loads)]
    public ulong FlatArray()
    {
        var flat = _flat;
        var sum = 0UL;
        foreach (var offset in _flatOffsets) sum ^= BinaryPrimitives.ReadUInt64LittleEndian(flat.AsSpan((int)offset, 8));
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Loads)]
    public ulong GuestLoad()
    {
        var guest = _guest;
        var destination = _destination.AsSpan();
        var sum = 0UL;
        foreach (var gpa in _gpas)
        {
            if (!guest.TryAccess(gpa, destination, write: false)) throw new InvalidOperationException($"guest load of gpa 0x{gpa:x} failed");
            sum ^= BinaryPrimitives.ReadUInt64LittleEndian(destination);
        }
        return sum;
    }
}
