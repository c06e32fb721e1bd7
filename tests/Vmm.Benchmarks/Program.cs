using BenchmarkDotNet.Running;
using Vmm.Benchmarks.Targets;

namespace Vmm.Benchmarks;

/// <summary>
/// `dotnet run -c Release -- --filter '*'` runs the BenchmarkDotNet suites; `-- --footprint` prints the
/// memory-per-frame table instead; `-- --targets` measures issue 12's targets and writes targets.json
/// (`--targets-quick`: the same with the Dry job, to check the mode cheaply).
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Contains("--footprint", StringComparer.Ordinal)) return FootprintReport.Run(Console.Out);
        if (args.Contains(RssProbe.Flag, StringComparer.Ordinal)) return RssProbe.Measure(args, Console.Out);
        if (args.Contains(FullMappingProbe.Flag, StringComparer.Ordinal)) return FullMappingProbe.Print(args, Console.Out);
        if (args.Contains("--targets-quick", StringComparer.Ordinal)) return TargetMode.Run(Console.Out, quick: true, Environment.CurrentDirectory);
        if (args.Contains("--targets", StringComparer.Ordinal)) return TargetMode.Run(Console.Out, quick: false, Environment.CurrentDirectory);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
