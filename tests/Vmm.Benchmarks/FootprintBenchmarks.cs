using BenchmarkDotNet.Attributes;
using Vmm.Core.Engine;

namespace Vmm.Benchmarks;

/// <summary>
/// Bytes allocated to declare a VM and touch 1000 pages spread over it: 1 TiB against 1 GiB. Frames cost
/// nothing until used, so the ratio stays far below the 1024× in declared memory.
/// </summary>
[MemoryDiagnoser]
public class FootprintBenchmarks
{
    public const int TouchedPages = 1000;

    [Benchmark(Baseline = true)]
    public Simulation Vm1GiB() => CreateAndTouch(1UL << 30);

    [Benchmark]
    public Simulation Vm1TiB() => CreateAndTouch(1UL << 40);

    private static Simulation CreateAndTouch(ulong vmBytes)
    {
        var simulation = BenchMachine.Create(vmBytes);
        BenchMachine.TouchSpread(simulation, TouchedPages);
        return simulation;
    }
}
