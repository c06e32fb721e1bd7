using System.Diagnostics;
using System.Globalization;

namespace Vmm.Benchmarks.Targets;

/// <summary>
/// The compare-default row: wall time of the real `vmm compare` (the CLI this build made, with the plugins
/// plugins.json names), as a user starts it: process start, plugin loading, every run and the report. The
/// default sweep is timed three times and the fastest counts (the other two are in the note); the 80-run sweep
/// of issue 12 (2 stacks × 8 workloads × 5 seeds) once.
/// </summary>
internal static class CompareProbe
{
    /// <summary>The issue's 80-run sweep: the RFC's design against the baseline, on every default workload but vmm-dump.</summary>
    private static readonly string[] EightyRuns =
        ["compare", "--stack", "tdx-ci+none", "--stack", "tdx-ci+hwpoison-v2", "--workload", "boot,discard,malicious-vmm,memory-errors,prealloc,thp-heavy,two-vms,virtio-io", "--repeat", "5"];

    /// <summary>In --targets-quick: one workload, so the test suite checks the mode in seconds.</summary>
    private static readonly string[] QuickDefault = ["compare", "--workload", "boot"];
    private static readonly string[] QuickEighty = ["compare", "--stack", "tdx-ci+none", "--stack", "tdx-ci+hwpoison-v2", "--workload", "boot", "--repeat", "2"];

    public static TargetRow Row(string? solution, bool quick)
    {
        const string what = "`vmm compare` default sweep, wall time";
        const string eighty = "`vmm compare` 80-run sweep (2 stacks × 8 workloads × 5 seeds), wall time";
        var job = quick ? "child process (scaled down)" : "child process";
        var cli = solution is null ? null : CliPath(solution);
        if (cli is null)
            return TargetRow.Unmeasured("compare-default", what, 10, Bound.AtMost, "s",
                $"not measured: no built vmm.dll under hosts/Vmm.Cli/bin/{Configuration}/net10.0 (build Vmm.sln or hosts/Vmm.Cli in {Configuration} first)");
        var defaults = new List<double>();
        string? failure = null;
        for (var i = 0; i < (quick ? 1 : 3) && failure is null; i++)
        {
            var (seconds, error) = Time(cli, solution!, quick ? QuickDefault : ["compare"]);
            if (seconds is { } s) defaults.Add(s);
            failure = error;
        }
        var (eightySeconds, eightyFailure) = failure is null ? Time(cli, solution!, quick ? QuickEighty : EightyRuns) : (null, null);
        failure ??= eightyFailure;
        var best = defaults.Count > 0 ? defaults.Min() : (double?)null;
        var runs = string.Join(", ", defaults.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)));
        var note = string.Create(CultureInfo.InvariantCulture,
            $"`dotnet exec {Path.GetRelativePath(solution!, cli)} {string.Join(' ', quick ? QuickDefault : ["compare"])}` from the repository root, fastest of {defaults.Count} ({runs} s); the 80-run sweep: {string.Join(' ', (quick ? QuickEighty : EightyRuns).Skip(1))}");
        if (failure is not null) note = $"{note}; not measured: {failure}";
        return new TargetRow("compare-default", new TargetCheck(what, 10, Bound.AtMost, "s", failure is null ? best : null), job, note,
            [new TargetCheck(eighty, 600, Bound.AtMost, "s", failure is null ? eightySeconds : null)]);
    }

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    /// <summary>The CLI of this build's configuration (Vmm.Benchmarks builds it: see its project file).</summary>
    private static string? CliPath(string solution)
    {
        var path = Path.Combine(solution, "hosts", "Vmm.Cli", "bin", Configuration, "net10.0", "vmm.dll");
        return File.Exists(path) ? path : null;
    }

    private static (double? Seconds, string? Failure) Time(string cli, string solution, string[] arguments)
    {
        var start = new ProcessStartInfo(RssProbe.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = solution,
        };
        foreach (var argument in (string[])["exec", cli, .. arguments]) start.ArgumentList.Add(argument); // no --export: compare writes nothing
        start.Environment["NO_COLOR"] = "1";
        var clock = Stopwatch.StartNew();
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start vmm compare");
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEnd();
        child.WaitForExit();
        clock.Stop();
        _ = stdout.Result;
        return child.ExitCode == 0
            ? (clock.Elapsed.TotalSeconds, null)
            : (null, $"vmm {string.Join(' ', arguments)} exited with {child.ExitCode}: {stderr.Trim()}");
    }
}
