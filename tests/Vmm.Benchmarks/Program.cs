using BenchmarkDotNet.Running;

namespace Vmm.Benchmarks;

/// <summary>
/// `dotnet run -c Release -- --filter '*'` runs the BenchmarkDotNet suites; `-- --footprint` prints the
/// memory-per-frame table instead.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Contains("--footprint", StringComparer.Ordinal)) return FootprintReport.Run(Console.Out);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
