using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.Plain;
using Vmm.Plugins.HwPoison;
using Vmm.Core.Engine.Ops;

namespace Vmm.Benchmarks;

/// <summary>
/// Conversions per second under hwpoison-v2 on plain memory: one private → shared → private cycle of a
/// 4 KiB page of a protected shmem VM is guest.convert to shared (the policy un-poisons the frame), one
/// VMM touch through each of the frame's VMM mappings (each rebuilds its PTE from the hwpoison entry),
/// guest.convert to private, and one private guest read (EPT fault: the frame is poisoned again and
/// try_to_unmap turns every one of those mappings back into a hwpoison entry). Extra mappings come from
/// host.mmap-backing of the VM's shmem file, so rmap holds <see cref="Mappings"/> entries per frame.
/// The pages are spread evenly over the guest: nothing in the cycle may cost more in a bigger guest.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(RatioConfig))]
public class ConversionBenchmarks
{
    public const int Pages = 64;
    private const string VmName = "td";

    private readonly byte[] _buffer = new byte[8];
    private HostKernel _kernel = null!;
    private Vm _vm = null!;
    private ulong[] _gpas = [];
    private ulong[] _mappingBases = [];

    /// <summary>VMM mappings of each frame: the memslot plus Mappings − 1 host.mmap-backing mappings.</summary>
    [Params(1, 2, 8)]
    public int Mappings { get; set; }

    /// <summary>Guest size; 8 mappings of 128 GiB fill the VMM's 1 TiB of address space (a larger one is mmap's ENOMEM).</summary>
    [Params(1, 128)]
    public int GuestGiB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var bytes = (ulong)GuestGiB << 30;
        var scenario = new Scenario
        {
            File = "benchmark",
            Name = $"conversions-{GuestGiB}G-{Mappings}",
            Vms = [new VmSpec(VmName, bytes, Protected: true, BackingKind.Shmem, Thp: false, new SourceLocation("benchmark", 0, 0))],
        };
        var services = new KernelServices();
        var contents = new PhysicalMemory();
        var ledger = new CostLedger();
        var components = new SimulationComponents(
            new PlainMemoryController(contents, ledger),
            new HwPoisonV2Policy(new HwPoisonOptions(), new HwPoisonServices(services, services, services, services, services, services)),
            new LinuxFaultDelivery(),
            new RadixPageTableFactory(),
            Thp: null,
            new KernelOptions(),
            new CostOptions())
        {
            Services = services,
            Contents = contents,
            Ledger = ledger,
        };
        var simulation = new Simulation(scenario, components);
        _kernel = simulation.Kernel;
        _vm = _kernel.Kvm.VmList[0];
        _mappingBases = new ulong[Mappings];
        _mappingBases[0] = _vm.Info.HvaBase.Value;
        for (var i = 1; i < Mappings; i++)
        {
            var mapped = simulation.Execute(new StepSpec { Index = i, Op = new MmapBacking(bytes) { At = new StepAddress(VmName, Offset: 0) } });
            _mappingBases[i] = (ulong)(mapped.Count ?? throw new InvalidOperationException($"host.mmap-backing failed: {mapped}"));
        }
        var stride = bytes / Pages & ~(ulong)(PageGeometry.PageSize - 1);
        _gpas = [.. Enumerable.Range(0, Pages).Select(i => (ulong)i * stride)];
        foreach (var gpa in _gpas)
        {
            TouchEveryMapping(gpa);
            GuestAccess(gpa);
        }
        foreach (var gpa in _gpas) CheckOneCycle(gpa);
    }

    [Benchmark(OperationsPerInvoke = Pages)]
    public int PrivateSharedPrivateCycle()
    {
        foreach (var gpa in _gpas)
        {
            Convert(gpa, toPrivate: false);
            TouchEveryMapping(gpa);
            Convert(gpa, toPrivate: true);
            GuestAccess(gpa);
        }
        return _buffer[0];
    }

    private void Convert(ulong gpa, bool toPrivate)
    {
        var outcome = _kernel.Kvm.Convert(_vm, gpa, PageGeometry.PageSize, toPrivate);
        if (!outcome.IsOk) throw new InvalidOperationException($"guest.convert of 0x{gpa:x} failed: {outcome}");
    }

    private void TouchEveryMapping(ulong gpa)
    {
        foreach (var hvaBase in _mappingBases)
        {
            if (!_kernel.Uaccess.TryUserAccess(_kernel.Vmm, new Hva(hvaBase + gpa), _buffer, write: false, out var failure))
                throw new InvalidOperationException($"VMM touch of 0x{hvaBase + gpa:x} failed: {failure}");
        }
    }

    private void GuestAccess(ulong gpa)
    {
        if (!_kernel.Kvm.TryGuestAccess(_vm, gpa, _buffer, write: false, shared: false, out var failure))
            throw new InvalidOperationException($"private guest read of 0x{gpa:x} failed: {failure}");
    }

    /// <summary>One measured cycle by hand, checking that each step did what the benchmark claims to measure.</summary>
    private void CheckOneCycle(ulong gpa)
    {
        var pfn = _kernel.Kvm.FrameOf(_vm.Info.Id, new Gfn(gpa >> PageGeometry.PageShift));
        Require(_kernel.Mm.Frames.Has(pfn, FrameFlags.PolicyPoison) && _kernel.Mm.Frames.HwpEntryRefsOf(pfn) == Mappings, pfn, "poisoned with a hwpoison entry per mapping");
        Convert(gpa, toPrivate: false);
        Require(!_kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison), pfn, "un-poisoned by the share");
        TouchEveryMapping(gpa);
        Require(_kernel.Mm.MapCount(pfn) == Mappings && _kernel.Mm.Frames.HwpEntryRefsOf(pfn) == 0, pfn, "mapped present once per mapping");
        Convert(gpa, toPrivate: true);
        GuestAccess(gpa);
        Require(_kernel.Mm.Frames.Has(pfn, FrameFlags.PolicyPoison) && _kernel.Mm.MapCount(pfn) == 0 && _kernel.Mm.Frames.HwpEntryRefsOf(pfn) == Mappings,
            pfn, "poisoned and unmapped from every mapping again");
    }

    private void Require(bool condition, Pfn pfn, string what)
    {
        if (!condition)
            throw new InvalidOperationException($"{pfn} is not {what}: flags {_kernel.Mm.Frames.Flags(pfn)}, mapcount {_kernel.Mm.MapCount(pfn)}, hwpoison entries {_kernel.Mm.Frames.HwpEntryRefsOf(pfn)}");
    }

    /// <summary>Adds the Ratio column against one parameter case (the built-in baseline compares methods, not cases).</summary>
    private sealed class RatioConfig : ManualConfig
    {
        public RatioConfig() => AddColumn(new RatioToCaseColumn(nameof(Mappings), 1, nameof(GuestGiB), 1));
    }
}

/// <summary>Mean of each case over the mean of the baseline case, whose two parameters have the given values.</summary>
internal sealed class RatioToCaseColumn(string firstParameter, object firstValue, string secondParameter, object secondValue) : IColumn
{
    public string Id => $"{nameof(RatioToCaseColumn)}.{firstParameter}={firstValue}.{secondParameter}={secondValue}";
    public string ColumnName => "Ratio";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Baseline;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"Mean / Mean of the baseline case ({firstParameter}={firstValue}, {secondParameter}={secondValue})";

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var baseline = summary.BenchmarksCases.FirstOrDefault(IsBaseline);
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
        var baselineMean = baseline is null ? null : summary[baseline]?.ResultStatistics?.Mean;
        if (mean is null || baselineMean is null or 0) return "?";
        return (mean.Value / baselineMean.Value).ToString("0.00", CultureInfo.InvariantCulture);
    }

    private bool IsBaseline(BenchmarkCase benchmarkCase)
        => Equals(benchmarkCase.Parameters[firstParameter], firstValue) && Equals(benchmarkCase.Parameters[secondParameter], secondValue);
}
