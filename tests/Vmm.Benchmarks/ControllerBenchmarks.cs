using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Machine;
using Vmm.Plugins.Baseline.Plain;
using Vmm.Plugins.Tdx;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.Li;
using Vmm.Plugins.Tdx.Mktme;

namespace Vmm.Benchmarks;

/// <summary>
/// Per-access cost of the memory controllers on the same pre-written VM lines: 64-byte reads and writes
/// with the VM's KeyID (a TD-private KeyID under tdx-*, an MKTME KeyID under mktme, KeyID 0 under plain),
/// each against plain in its category. SharedKey: the host reading the TD's lines under tdx-ci (H4: zeros).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ControllerBenchmarks
{
    /// <summary>64 pages, every line of each: 4096 line accesses per invocation, consecutive ones on different pages.</summary>
    private const int Pages = 64;
    private const int Accesses = Pages * PageGeometry.LinesPerPage;

    private readonly byte[] _contents = new byte[Accesses * PageGeometry.LineSize];
    private readonly byte[] _line = new byte[PageGeometry.LineSize];
    private Rig _plain = null!;
    private Rig _mktme = null!;
    private Rig _tdxLi = null!;
    private Rig _tdxCi = null!;

    [GlobalSetup]
    public void Setup()
    {
        new Random(42).NextBytes(_contents);
        _plain = Rig.Create((m, l) => new PlainMemoryController(m, l), _contents);
        _mktme = Rig.Create((m, l) => new MktmeMemoryController(new MktmeOptions(), m, l), _contents);
        _tdxLi = Rig.Create((m, l) => new TdxLiMemoryController(new TdxOptions(), m, l), _contents);
        _tdxCi = Rig.Create((m, l) => new TdxCiMemoryController(new TdxOptions(), m, l), _contents);
        var expected = Checksum(_contents);
        foreach (var rig in new[] { _plain, _mktme, _tdxLi, _tdxCi })
        {
            if (Read(rig, rig.VmKey) != expected) throw new InvalidOperationException($"{rig.Memory.GetType().Name}: reads differ from what was written");
            if (Write(rig) != expected) throw new InvalidOperationException($"{rig.Memory.GetType().Name}: writes differ");
        }
        var macs = _tdxCi.Ledger.Count(CostKind.MacCompute);
        Read(_tdxCi, _tdxCi.VmKey);
        if (_tdxCi.Ledger.Count(CostKind.MacCompute) - macs != Accesses) throw new InvalidOperationException("tdx-ci reads were not MAC-checked");
        if (Read(_tdxCi, KeyId.Shared) != 0) throw new InvalidOperationException("a shared-KeyID read of TD lines did not see zeros");
        if (!((TdxLiMemoryController)_tdxLi.Memory).Layout.IsPrivate(_tdxLi.VmKey) || !((TdxCiMemoryController)_tdxCi.Memory).Layout.IsPrivate(_tdxCi.VmKey) || _mktme.VmKey.IsShared)
            throw new InvalidOperationException("the VMs did not get the KeyIDs the rows claim");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Accesses)]
    [BenchmarkCategory("Read")]
    public ulong PlainRead() => Read(_plain, _plain.VmKey);

    [Benchmark(OperationsPerInvoke = Accesses)]
    [BenchmarkCategory("Read")]
    public ulong MktmeRead() => Read(_mktme, _mktme.VmKey);

    [Benchmark(OperationsPerInvoke = Accesses)]
    [BenchmarkCategory("Read")]
    public ulong TdxLiRead() => Read(_tdxLi, _tdxLi.VmKey);

    [Benchmark(OperationsPerInvoke = Accesses)]
    [BenchmarkCategory("Read")]
    public ulong TdxCiRead() => Read(_tdxCi, _tdxCi.VmKey);

    [Benchmark(OperationsPerInvoke = Accesses)]
    [BenchmarkCategory("Read")]
    public ulong TdxCiSharedKeyRead() => Read(_tdxCi, KeyId.Shared);

    [Benchmark(Baseline = true, OperationsPerInvoke = Accesses)]
    [BenchmarkCategory("Write")]
    public ulong PlainWrite() => Write(_plain);

    [Benchmark(OperationsPerInvoke = Accesses)]
    [BenchmarkCategory("Write")]
    public ulong MktmeWrite() => Write(_mktme);

    [Benchmark(OperationsPerInvoke = Accesses)]
    [BenchmarkCategory("Write")]
    public ulong TdxLiWrite() => Write(_tdxLi);

    [Benchmark(OperationsPerInvoke = Accesses)]
    [BenchmarkCategory("Write")]
    public ulong TdxCiWrite() => Write(_tdxCi);

    /// <summary>Access i reads line i / Pages of page i % Pages; the sum is over the data read.</summary>
    private ulong Read(Rig rig, KeyId key)
    {
        var memory = rig.Memory;
        var line = _line.AsSpan();
        var sum = 0UL;
        for (var i = 0; i < Accesses; i++)
        {
            var access = new LineAccess(new Pfn((ulong)(i % Pages)), i / Pages * PageGeometry.LineSize, key, Requester.Guest);
            if (!memory.Read(access, line).IsOk) throw new InvalidOperationException($"read {i} failed");
            sum += BinaryPrimitives.ReadUInt64LittleEndian(line);
        }
        return sum;
    }

    /// <summary>Writes every line again with the bytes it already holds, so each invocation leaves the same state.</summary>
    private ulong Write(Rig rig)
    {
        var memory = rig.Memory;
        var contents = _contents;
        var sum = 0UL;
        for (var i = 0; i < Accesses; i++)
        {
            var source = contents.AsSpan(i * PageGeometry.LineSize, PageGeometry.LineSize);
            var access = new LineAccess(new Pfn((ulong)(i % Pages)), i / Pages * PageGeometry.LineSize, rig.VmKey, Requester.Guest);
            if (!memory.Write(access, source).IsOk) throw new InvalidOperationException($"write {i} failed");
            sum += BinaryPrimitives.ReadUInt64LittleEndian(source);
        }
        return sum;
    }

    private static ulong Checksum(byte[] contents)
    {
        var sum = 0UL;
        for (var i = 0; i < Accesses; i++) sum += BinaryPrimitives.ReadUInt64LittleEndian(contents.AsSpan(i * PageGeometry.LineSize));
        return sum;
    }

    /// <summary>A controller on its own DRAM and ledger, its VM's pages accepted (H10) and written once.</summary>
    private sealed class Rig(IMemoryController memory, KeyId vmKey, CostLedger ledger)
    {
        public IMemoryController Memory { get; } = memory;
        public KeyId VmKey { get; } = vmKey;
        public CostLedger Ledger { get; } = ledger;

        public static Rig Create(Func<IPhysicalMemory, ICostLedger, IMemoryController> create, byte[] contents)
        {
            var ledger = new CostLedger();
            var memory = create(new PhysicalMemory(Pages), ledger);
            var rig = new Rig(memory, memory.AssignPrivateKey(new VmId(0)), ledger);
            for (var page = 0; page < Pages; page++) memory.Reinitialize(new Pfn((ulong)page), rig.VmKey);
            for (var i = 0; i < Accesses; i++)
            {
                var access = new LineAccess(new Pfn((ulong)(i % Pages)), i / Pages * PageGeometry.LineSize, rig.VmKey, Requester.Guest);
                memory.Write(access, contents.AsSpan(i * PageGeometry.LineSize, PageGeometry.LineSize));
            }
            return rig;
        }
    }
}
