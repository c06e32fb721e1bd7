using System.Reflection;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Vmm.Benchmarks.Targets;

namespace Vmm.Benchmarks.Tests;

/// <summary>
/// Runs the benchmark code so that it cannot rot: BenchmarkDotNet's Dry job (one invocation) in this process,
/// one parameter case per method. Both tests drive BenchmarkDotNet, so they share a class and run one at a time.
/// </summary>
public sealed class BenchmarkSmokeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vmm-bench-smoke-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void EveryBenchmarkMethod_RunsInTheDryJob_WithoutError()
    {
        var types = typeof(TargetMode).Assembly.GetTypes()
            .Where(type => !type.IsAbstract && type.GetMethods().Any(method => method.GetCustomAttribute<BenchmarkAttribute>() is not null))
            .ToArray();
        var firstCases = new Dictionary<string, string>();
        var config = DefaultConfig.Instance
            .AddJob(Job.Dry.WithToolchain(InProcessEmitToolchain.Instance))
            .AddFilter(new SimpleFilter(benchmarkCase => FirstCaseOfItsMethod(firstCases, benchmarkCase)))
            .WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.DisableLogFile)
            .WithArtifactsPath(_directory);

        var previous = GuestLoadBenchmarks.TouchedMiBForRuns;
        GuestLoadBenchmarks.TouchedMiBForRuns = 16;
        try
        {
            var summaries = BenchmarkRunner.Run(types, config);

            var reports = summaries.SelectMany(summary => summary.Reports).ToList();
            Assert.All(summaries, summary => Assert.False(summary.HasCriticalValidationErrors, string.Join("; ", summary.ValidationErrors.Select(error => error.Message))));
            Assert.All(reports, report => Assert.True(report.Success && report.ResultStatistics is not null, $"{report.BenchmarkCase.DisplayInfo} did not run"));
            var methods = types.SelectMany(type => type.GetMethods().Where(method => method.GetCustomAttribute<BenchmarkAttribute>() is not null).Select(method => $"{type.Name}.{method.Name}"));
            Assert.Equal(methods.Order(StringComparer.Ordinal), reports.Select(report => MethodOf(report.BenchmarkCase)).Order(StringComparer.Ordinal));
        }
        finally
        {
            GuestLoadBenchmarks.TouchedMiBForRuns = previous;
        }
    }

    /// <summary>Keeps one parameter case per method; idempotent, in case BenchmarkDotNet asks twice.</summary>
    private static bool FirstCaseOfItsMethod(Dictionary<string, string> firstCases, BenchmarkCase benchmarkCase)
    {
        var method = MethodOf(benchmarkCase);
        if (!firstCases.TryGetValue(method, out var first)) firstCases[method] = first = benchmarkCase.DisplayInfo;
        return first == benchmarkCase.DisplayInfo;
    }

    private static string MethodOf(BenchmarkCase benchmarkCase) => $"{benchmarkCase.Descriptor.Type.Name}.{benchmarkCase.Descriptor.WorkloadMethod.Name}";

    [Fact]
    public void TargetsQuick_WritesTargetsJson_WithEveryRowInItsShape()
    {
        using var output = new StringWriter();

        TargetMode.Run(output, quick: true, _directory, artifactsPath: _directory);

        Assert.Contains("Job: BenchmarkDotNet Dry", output.ToString(), StringComparison.Ordinal);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_directory, TargetMode.FileName)));
        var rows = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(["guest-random", "guest-seq", "tdxli-random", "mac-sha3", "mac-aes", "convert", "meta-touched", "pt-dense", "rss-64t", "untouched", "full-4t", "compare-default", "alloc"],
            rows.Select(row => row.GetProperty("id").GetString()));
        foreach (var row in rows)
        {
            var id = row.GetProperty("id").GetString();
            Assert.Equal(JsonValueKind.Number, row.GetProperty("target").ValueKind);
            Assert.False(string.IsNullOrEmpty(row.GetProperty("unit").GetString()), id);
            var measured = row.GetProperty("measured");
            var met = row.GetProperty("met").GetBoolean();
            if (measured.ValueKind == JsonValueKind.Null)
            {
                Assert.False(met, id);
                Assert.Contains("not measured", row.GetProperty("note").GetString(), StringComparison.Ordinal);
            }
            else
            {
                Assert.Equal(JsonValueKind.Number, measured.ValueKind);
            }
        }
        Assert.All(rows, row => Assert.Equal(JsonValueKind.Number, row.GetProperty("measured").ValueKind));
        var guestRandom = rows[0].GetProperty("checks").EnumerateArray().ToList();
        Assert.Equal(["M loads/s", "x flat"], guestRandom.Select(check => check.GetProperty("unit").GetString()));
        var compare = rows.Single(row => row.GetProperty("id").GetString() == "compare-default").GetProperty("checks").EnumerateArray().ToList();
        Assert.All(compare, check => Assert.True(check.GetProperty("measured").GetDouble() > 0, "vmm compare was timed"));
    }
}
