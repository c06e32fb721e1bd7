using CsCheck;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests.Comparisons;

/// <summary><see cref="ComparisonShard"/>'s slices, <see cref="ComparisonShardFile"/>'s round trip, and <see cref="ComparisonRunner.Report"/> from shards.</summary>
public sealed class ComparisonShardTests
{
    private static string PluginsJson => Path.Combine(TestPaths.RepoRoot, "plugins.json");

    private static Comparison Small(VmmHost host) => new()
    {
        Stacks = new[] { "plain+none", "tdx-ci+none", "tdx-ci+hwpoison-v2" }.Select(s => Stack.Parse(s, host.Components)).ToList(),
        Workloads = ["boot", "malicious-vmm"],
        Baseline = "tdx-ci+none",
        Repeat = 2,
        Options = [new("boot.pages", "16"), new("malicious-vmm.pages", "18")],
    };

    private static string Json(ComparisonReport report)
    {
        var writer = new StringWriter();
        ComparisonExporters.Find("json")!.Export(report, writer);
        return writer.ToString();
    }

    [Fact]
    public void Shards_OfAnyCut_AreDisjointAndCoverEveryRunInOrder()
    {
        Gen.Select(Gen.Int[0, 500], Gen.Int[1, 40]).Sample((total, count) =>
        {
            var slices = Enumerable.Range(0, count).Select(i => new ComparisonShard(i, count).Runs(total)).ToList();
            Assert.Equal(Enumerable.Range(0, total), slices.SelectMany(s => s).Order());
            Assert.All(slices, s => Assert.Equal(s.Order(), s));
            Assert.All(Enumerable.Range(0, total), run => Assert.Equal(
                slices.FindIndex(s => s.Contains(run)),
                Assert.Single(Enumerable.Range(0, count), i => new ComparisonShard(i, count).Owns(run))));
            Assert.True(slices.Max(s => s.Count) - slices.Min(s => s.Count) <= 1, "slices differ by more than one run");
        });
    }

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("3/4", 3, 4)]
    [InlineData("999999/1000000", 999999, 1000000)]
    public void Parse_IOverN_CountsFromZero(string text, int index, int count) =>
        Assert.Equal(new ComparisonShard(index, count), ComparisonShard.Parse(text));

    [Theory]
    [InlineData("4/4", "I counts from 0 to N-1")]
    [InlineData("1/1000001", "N is the number of shards, 1 to 1000000")]
    [InlineData("1", "expected I/N")]
    [InlineData("a/b", "expected I/N")]
    [InlineData(" 1/2", "expected I/N")]
    public void Parse_Bad_NamesTheProblem(string text, string message) =>
        Assert.Contains(message, Assert.Throws<ComparisonException>(() => ComparisonShard.Parse(text)).Message, StringComparison.Ordinal);

    [Fact]
    public void ShardFile_WriteThenRead_GivesEveryDoubleBackBitForBit()
    {
        using var scratch = new ScratchDirectory();
        double[] awkward = [0.1 + 0.2, 1e-300, double.Epsilon, 123456789.123456789, -0.0, 1.0 / 3, double.NaN, double.PositiveInfinity];
        var results = awkward.Select((value, i) => new ComparisonRunResult(
            i * 3 + 1, "boot", "tdx-ci+none", 1 + i,
            new Dictionary<string, double> { ["model µs"] = value, ["panics"] = i },
            value, 10 + i, new Dictionary<string, double> { ["PageFault"] = value * 2 })).ToList();
        var written = new ComparisonShardFile("sha256:00", "vmm test", "{\n  \"seed\": 1\n}", new ComparisonShardResult(new ComparisonShard(1, 3), 24, results, TimeSpan.FromSeconds(1.5)));
        var path = Path.Combine(scratch.Path, ComparisonShardFile.FileName(written.Result.Shard));
        using (var writer = new StreamWriter(path)) written.Write(writer);

        var read = ComparisonShardFile.Read(path);

        Assert.Equal("compare-shard-1-of-3.json", Path.GetFileName(path));
        Assert.Equal((written.Fingerprint, written.Engine, written.Comparison), (read.Fingerprint, read.Engine, read.Comparison));
        Assert.Equal(written.Result.Shard, read.Result.Shard);
        Assert.Equal(24, read.Result.TotalRuns);
        Assert.Equal(written.Result.WallTime, read.Result.WallTime);
        static long Bits(double d) => BitConverter.DoubleToInt64Bits(d);
        for (var i = 0; i < results.Count; i++)
        {
            var (a, b) = (results[i], read.Result.Results[i]);
            Assert.Equal((a.Run, a.Workload, a.Stack, a.Seed, a.Steps), (b.Run, b.Workload, b.Stack, b.Seed, b.Steps));
            Assert.Equal(Bits(a.WallMilliseconds), Bits(b.WallMilliseconds));
            Assert.Equal(a.Metrics.Select(m => (m.Key, Bits(m.Value))), b.Metrics.Select(m => (m.Key, Bits(m.Value))));
            Assert.Equal(a.ModelledNanosecondsByKind.Select(m => (m.Key, Bits(m.Value))), b.ModelledNanosecondsByKind.Select(m => (m.Key, Bits(m.Value))));
        }
    }

    [Fact]
    public void ShardFile_WithRunsOfAnotherShard_IsRejectedNamingTheFile()
    {
        using var scratch = new ScratchDirectory();
        var run = new ComparisonRunResult(2, "boot", "tdx-ci+none", 1, new Dictionary<string, double>(), 1, 1, new Dictionary<string, double>());
        var file = new ComparisonShardFile("sha256:00", "vmm test", "{}", new ComparisonShardResult(new ComparisonShard(1, 3), 6, [run], TimeSpan.Zero));
        var path = Path.Combine(scratch.Path, "compare-shard-1-of-3.json");
        using (var writer = new StreamWriter(path)) file.Write(writer);

        var error = Assert.Throws<ComparisonException>(() => ComparisonShardFile.Read(path));

        Assert.Equal($"{path}: holds runs 2 where shard 1/3 of 6 runs has 1, 4 (a damaged or edited file; run the shard again)", error.Message);
    }

    [Fact]
    public void Report_FromEveryShardInAnyOrder_IsTheOneProcessReport()
    {
        using var host = VmmHost.Load(PluginsJson);
        var runner = new ComparisonRunner(host);
        var comparison = Small(host);

        var whole = runner.Run(comparison);
        var shards = Enumerable.Range(0, 5).Reverse().Select(i => runner.RunShard(comparison, new ComparisonShard(i, 5))).ToList();
        var merged = runner.Report(comparison, [.. shards.SelectMany(s => s.Results).Reverse()], TimeSpan.Zero);

        Assert.Equal(Json(whole), Json(merged));
        Assert.Equal([3, 3, 2, 2, 2], shards.Select(s => s.Results.Count).Reverse());
        Assert.All(shards, s => Assert.Equal(12, s.TotalRuns));
    }

    [Fact]
    public void Report_WithARunMissingOrTwice_NamesTheRun()
    {
        using var host = VmmHost.Load(PluginsJson);
        var runner = new ComparisonRunner(host);
        var comparison = Small(host);
        var runs = runner.RunShard(comparison, ComparisonShard.Whole).Results;

        var missing = Assert.Throws<ComparisonException>(() => runner.Report(comparison, [.. runs.Where(r => r.Run != 7)], TimeSpan.Zero));
        var twice = Assert.Throws<ComparisonException>(() => runner.Report(comparison, [.. runs, runs[7]], TimeSpan.Zero));
        var moved = Assert.Throws<ComparisonException>(() => runner.Report(comparison, [.. runs.Select(r => r.Run == 7 ? r with { Stack = "tdx-ci+none" } : r)], TimeSpan.Zero));

        Assert.Equal("run 7 (malicious-vmm under plain+none, seed 2) is missing", missing.Message);
        Assert.Equal("run 7 (malicious-vmm under plain+none, seed 2) is given twice", twice.Message);
        Assert.StartsWith("run 7 is malicious-vmm under tdx-ci+none, seed 2, where the comparison's run 7 is malicious-vmm under plain+none", moved.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_CountsEveryRunsStepsAndSuggestsOneShardForASmallSweep()
    {
        using var host = VmmHost.Load(PluginsJson);
        var runner = new ComparisonRunner(host);
        var comparison = Small(host);

        var plan = runner.Plan(comparison);
        var ran = runner.RunShard(comparison, ComparisonShard.Whole).Results;

        Assert.Equal(Enumerable.Range(0, 12), plan.Runs.Select(r => r.Run));
        Assert.Equal(ran.Select(r => (r.Workload, r.Stack, r.Seed)), plan.Runs.Select(r => (r.Workload, r.Stack, r.Seed)));
        Assert.All(plan.Runs.Zip(ran), p => Assert.True(p.First.Steps >= p.Second.Steps && p.First.Steps > 0, $"run {p.First.Run}: {p.First.Steps} planned steps, {p.Second.Steps} run"));
        Assert.All(plan.Runs, r => Assert.Equal(r.Steps * plan.MillisecondsPerStep[r.Workload], r.EstimatedMilliseconds));
        Assert.Equal(plan.EstimatedMilliseconds, plan.LargestShardMilliseconds(1), 9);
        Assert.True(plan.LargestShardMilliseconds(2) < plan.EstimatedMilliseconds);
        Assert.Equal(1, plan.SuggestedShards);
        Assert.Equal("tdx-ci+none", plan.CalibrationStack);
    }

    [Fact]
    public void SuggestedShards_AboutTenMinutesOfWorkEach_NeverMoreThanRuns()
    {
        PlannedRun Run(int i, double minutes) => new(i, "boot", "tdx-ci+none", 1, 10, minutes * 60_000);
        ComparisonPlan Plan(params double[] minutes) => new(new Comparison { Stacks = [], Workloads = [], Baseline = "" }, [.. minutes.Select((m, i) => Run(i, m))], "tdx-ci+none", new Dictionary<string, double>());

        Assert.Equal(1, Plan(3, 3, 3).SuggestedShards);
        Assert.Equal(3, Plan(10, 10, 10).SuggestedShards);
        Assert.Equal(4, Plan(5, 5, 5, 5, 5, 5.5).SuggestedShards);
        Assert.Equal(2, Plan(100, 100).SuggestedShards);
        Assert.Equal(12 * 60_000, Plan(6, 4, 6, 4).LargestShardMilliseconds(2), 6);
    }
}
