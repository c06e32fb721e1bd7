using BenchmarkDotNet.Attributes;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.Baseline.Plain;
using Vmm.Plugins.HwPoison;

namespace Vmm.Benchmarks;

/// <summary>
/// A conversion's cost grows with the pages present in its range, not with the range: a 1 TiB protected
/// shmem guest with <see cref="Pages"/> pages touched in its first GiB converts [0, 1 GiB) and [0, 1 TiB)
/// to shared and back, then touches the pages privately again (the policies re-poison them). The same pages
/// are in both ranges, so the Ratio of <see cref="Range1TiB"/> to <see cref="Range1GiB"/> should be about 1.
/// </summary>
[MemoryDiagnoser]
public class WideConversionBenchmarks
{
    public const int Pages = 64;
    private const ulong GiB = 1UL << 30;
    private const ulong TiB = 1UL << 40;

    private readonly byte[] _buffer = new byte[8];
    private HostKernel _kernel = null!;
    private Vm _vm = null!;
    private ulong[] _gpas = [];

    [Params("none", "hwpoison-v1", "hwpoison-v2")]
    public string Policy { get; set; } = "none";

    [GlobalSetup]
    public void Setup()
    {
        var scenario = new Scenario
        {
            File = "benchmark",
            Name = $"wide-conversion-{Policy}",
            Vms = [new VmSpec("td", TiB, Protected: true, BackingKind.Shmem, Thp: false, new SourceLocation("benchmark", 0, 0))],
        };
        var services = new KernelServices();
        var kernel = new HwPoisonServices(services, services, services, services, services, services);
        IPrivateMemoryPolicy policy = Policy switch
        {
            "hwpoison-v1" => new HwPoisonV1Policy(new HwPoisonOptions(), kernel),
            "hwpoison-v2" => new HwPoisonV2Policy(new HwPoisonOptions(), kernel),
            _ => new NonePolicy(),
        };
        var contents = new PhysicalMemory();
        var ledger = new CostLedger();
        var components = new SimulationComponents(new PlainMemoryController(contents, ledger), policy, new LinuxFaultDelivery(), new RadixPageTableFactory(), Thp: null, new KernelOptions(), new CostOptions())
        {
            Services = services,
            Contents = contents,
            Ledger = ledger,
        };
        _kernel = new Simulation(scenario, components).Kernel;
        _vm = _kernel.Kvm.VmList[0];
        _gpas = [.. Enumerable.Range(0, Pages).Select(i => (ulong)i * (GiB / Pages))];
        foreach (var gpa in _gpas) Touch(gpa);
        var steps = _kernel.Kvm.PageSteps;
        Range1TiB();
        if (_kernel.Kvm.PageSteps - steps > 100L * Pages)
            throw new InvalidOperationException($"one 1 TiB cycle took {_kernel.Kvm.PageSteps - steps} page steps: the conversion walks its range");
    }

    [Benchmark(Baseline = true)]
    public int Range1GiB() => Cycle(GiB);

    [Benchmark]
    public int Range1TiB() => Cycle(TiB);

    private int Cycle(ulong size)
    {
        _kernel.Kvm.Convert(_vm, 0, size, toPrivate: false);
        _kernel.Kvm.Convert(_vm, 0, size, toPrivate: true); // hwpoison-v1: ENOSYS, the pages stay shared
        foreach (var gpa in _gpas) Touch(gpa);
        return _buffer[0];
    }

    private void Touch(ulong gpa)
    {
        if (!_kernel.Kvm.TryGuestAccess(_vm, gpa, _buffer, write: false, shared: false, out var failure))
            throw new InvalidOperationException($"private guest read of 0x{gpa:x} failed: {failure}");
    }
}
