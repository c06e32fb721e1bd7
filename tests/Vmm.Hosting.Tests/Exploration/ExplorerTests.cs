using System.Text.Json.Nodes;
using Vmm.Core.Comparisons;
using Vmm.Hosting.Exploration;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests.Exploration;

/// <summary>
/// vmm explore's known answers, with the repository's plugins: each found from seed 1 within a budget of sequences
/// (never a wall time, so the tests are deterministic), shrunk to a handful of steps, and written as a scenario that
/// passes under vmm run; and the negative, from the exhaustive mode.
/// </summary>
public sealed class ExplorerTests : IClassFixture<ExplorerTests.HostFixture>
{
    public sealed class HostFixture : IDisposable
    {
        public VmmHost Host { get; } = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));

        public void Dispose() => Host.Dispose();
    }

    private readonly VmmHost _host;

    public ExplorerTests(HostFixture fixture) => _host = fixture.Host;

    private ExploreOptions Options(string stack, ExploreGoal goal, string actors, int sequences = 2000) => new()
    {
        Stack = Stack.Parse(stack, _host.Components),
        Goal = goal,
        Actors = ExploreOp.ParseActors(actors),
        Budget = new ExploreBudget(null, sequences),
        Seed = 1,
    };

    /// <summary>Writes the finding and runs the file as vmm run does; returns the file and its metrics.</summary>
    private (string File, IReadOnlyDictionary<string, double> Metrics) WriteAndReplay(ExploreReport report, ScratchDirectory scratch)
    {
        var file = new Explorer(_host).Write(report, scratch.Path);
        var validated = _host.Validate(file);
        Assert.True(validated.IsValid, validated.Error?.ToString());
        var run = _host.Run(validated);
        Assert.True(run.Passed, string.Join("; ", run.Steps.Where(s => !s.Passed).Select(s => $"step {s.Index} {s.Op}: {s.ActualText}")));
        var scenario = _host.Parse(file);
        return (file, RunMetrics.Of(scenario, _host.Run(scenario)));
    }

    /// <summary>The metrics of the same steps under another design.</summary>
    private IReadOnlyDictionary<string, double> Under(string stack, ExploreReport report, ExploreGoal goal)
    {
        var target = new ExploreTarget(_host, Stack.Parse(stack, _host.Components), goal, report.Options.EffectivePages, null);
        var steps = Replayed(report);
        var trial = target.Run(steps);
        Assert.Null(trial.Invalid);
        return trial.Metrics;
    }

    private static List<ExploreStep> Replayed(ExploreReport report) => report.Finding!.Source.ToList();

    [Fact]
    public void Search_TdxCiNone_FindsAHostPanicFromHostSideActors_ShrunkAndReplayable()
    {
        using var scratch = new ScratchDirectory();

        var report = new Explorer(_host).Run(Options("tdx-ci+none", ExploreGoal.HostPanic, "vmm,kernel,device"));

        var finding = Assert.IsType<ExploreFinding>(report.Finding);
        Assert.Equal(ExploreGoal.HostPanic, finding.Goal);
        Assert.InRange(finding.Steps.Count, 2, 4);
        Assert.Equal("\"host-panic\"", finding.Steps[^1].Outcome);
        Assert.True(finding.StepsBeforeShrinking > finding.Steps.Count, $"shrinking kept all {finding.StepsBeforeShrinking} steps");
        var (file, metrics) = WriteAndReplay(report, scratch);
        Assert.Equal(1, metrics[RunMetrics.HostPanics]);
        Assert.Equal("explore-host-panic-tdx-ci+none-seed1.json", Path.GetFileName(file));
        // guest_memfd keeps private memory out of the host's reach: the same steps do not panic it.
        Assert.Equal(0, Under("tdx-ci+guest-memfd", report, ExploreGoal.HostPanic)[RunMetrics.HostPanics]);
    }

    [Fact]
    public void Search_PlainHwpoisonV1_FindsAPlaintextLeakThroughAGupUser()
    {
        using var scratch = new ScratchDirectory();

        var report = new Explorer(_host).Run(Options("plain+hwpoison-v1", ExploreGoal.PlaintextLeak, "vmm"));

        var finding = Assert.IsType<ExploreFinding>(report.Finding);
        Assert.Equal(ExploreGoal.PlaintextLeak, finding.Goal);
        Assert.InRange(finding.Steps.Count, 2, 3);
        Assert.StartsWith("guest.write page 0", finding.Steps[0].Step, StringComparison.Ordinal);
        // P-hwpoison-v1: no ownership, so the GUP users /proc/pid/mem and process_vm_readv reach the private page.
        Assert.Matches("^host\\.(procmem-read|process-vm-readv) ", finding.Steps[^1].Step);
        var (_, metrics) = WriteAndReplay(report, scratch);
        Assert.True(metrics[RunMetrics.PlaintextBytes] > 0);
        // v2's owner check refuses those GUPs.
        Assert.Equal(0, Under("plain+hwpoison-v2", report, ExploreGoal.PlaintextLeak)[RunMetrics.PlaintextBytes]);
    }

    [Fact]
    public void Search_HwpoisonV2WithoutTrackReason_FindsALostRealError()
    {
        using var scratch = new ScratchDirectory();

        var report = new Explorer(_host).Run(Options("plain+hwpoison-v2", ExploreGoal.LostError, "hw"));

        var finding = Assert.IsType<ExploreFinding>(report.Finding);
        Assert.Equal(ExploreGoal.LostError, finding.Goal);
        Assert.InRange(finding.Steps.Count, 2, 4);
        // The real error looks like policy poison: memory_failure says "already poisoned" and tells nobody.
        Assert.Contains(finding.Steps, s => s.Step.StartsWith("hw.memory-error", StringComparison.Ordinal) && s.Outcome == "{\"errno\":\"EHWPOISON\"}");
        var (_, metrics) = WriteAndReplay(report, scratch);
        Assert.Equal(1, metrics[RunMetrics.UnreportedErrors]);
        // trackReason keeps the real error apart and tells the VMM (SIGBUS AO).
        Assert.Equal(0, Under("plain+hwpoison-v2,hwpoison.trackReason=true", report, ExploreGoal.LostError)[RunMetrics.UnreportedErrors]);
    }

    [Fact]
    public void Exhaustive_TdxCiGuestMemfdVmmOnly_FindsNoHostPanicUpToDepth2()
    {
        var report = new Explorer(_host).Run(Options("tdx-ci+guest-memfd", ExploreGoal.HostPanic, "vmm") with { Exhaustive = true, Depth = 2, Budget = new ExploreBudget(null, null) });

        Assert.Null(report.Finding);
        Assert.Equal(2, report.Progress.Depth);
        Assert.True(report.Progress.States > 100, $"only {report.Progress.States} states");
        Assert.Equal($"no violation of host-panic under tdx-ci+guest-memfd up to depth 2 over {report.Progress.States} distinct states ({report.Progress.Tried} sequences run)", report.Summary);
    }

    [Fact]
    public void Exhaustive_PlainHwpoisonV1_FindsAShortestLeak()
    {
        using var scratch = new ScratchDirectory();

        var report = new Explorer(_host).Run(Options("plain+hwpoison-v1", ExploreGoal.PlaintextLeak, "vmm") with { Exhaustive = true, Depth = 3, Budget = new ExploreBudget(null, null) });

        var finding = Assert.IsType<ExploreFinding>(report.Finding);
        // Breadth first: the guest's write and one read by the VMM, found at depth 2 before depth 3 is tried.
        Assert.Equal(2, finding.Steps.Count);
        Assert.Equal(2, report.Progress.Depth);
        Assert.Equal("guest.write page 0 64 bytes", finding.Steps[0].Step);
        var (file, metrics) = WriteAndReplay(report, scratch);
        Assert.Equal(64, metrics[RunMetrics.PlaintextBytes]);
        Assert.EndsWith("-depth3.json", file, StringComparison.Ordinal);
    }

    [Fact]
    public void Search_SameSeed_FindsTheSameSequenceWhateverTheJobs()
    {
        var one = new Explorer(_host).Run(Options("plain+hwpoison-v1", ExploreGoal.Any, "vmm,kernel,device,hw") with { Jobs = 1 });
        var two = new Explorer(_host).Run(Options("plain+hwpoison-v1", ExploreGoal.Any, "vmm,kernel,device,hw") with { Jobs = 3 });

        Assert.NotNull(one.Finding);
        Assert.Equal(one.Progress.Tried, two.Progress.Tried);
        Assert.Equal(one.Finding.Steps, two.Finding!.Steps);
        Assert.Equal(one.Finding.Scenario.ToJsonString(), two.Finding.Scenario.ToJsonString());
    }

    [Fact]
    public void Write_ExistingFile_IsNeverReplacedButANewNameIsPicked()
    {
        using var scratch = new ScratchDirectory();
        var report = new Explorer(_host).Run(Options("plain+hwpoison-v1", ExploreGoal.PlaintextLeak, "vmm"));
        var taken = scratch.Write("explore-plaintext-leak-plain+hwpoison-v1-seed1.json", "mine");

        var file = new Explorer(_host).Write(report, scratch.Path);

        Assert.Equal("mine", File.ReadAllText(taken));
        Assert.Equal("explore-plaintext-leak-plain+hwpoison-v1-seed1-2.json", Path.GetFileName(file));
        var written = JsonNode.Parse(File.ReadAllText(file))!;
        Assert.Equal("explore: plaintext-leak under plain+hwpoison-v1 (seed 1)", written["name"]!.GetValue<string>());
        Assert.Equal("hwpoison-v1", written["components"]!["policy"]!.GetValue<string>());
        Assert.All(written["steps"]!.AsArray(), step => Assert.NotNull(step!["expect"]));
    }

    [Fact]
    public void Search_NothingToFind_ReportsHowFarItGot()
    {
        var report = new Explorer(_host).Run(Options("tdx-ci+guest-memfd", ExploreGoal.HostPanic, "vmm", sequences: 64));

        Assert.Null(report.Finding);
        Assert.Equal(64, report.Progress.Tried);
        Assert.StartsWith("no violation of host-panic under tdx-ci+guest-memfd in 64 sequences (budget 64 sequences, seed 1); corpus ", report.Summary, StringComparison.Ordinal);
        Assert.True(report.Progress.Corpus > 0 && report.Progress.Behaviours >= report.Progress.Corpus);
    }

    [Theory]
    [InlineData("host-panik", "--goal: unknown goal \"host-panik\" (did you mean \"host-panic\"?); known: host-panic, shutdown, guest-killed, plaintext-leak, silent-corruption, lost-error, frame-leak, any")]
    public void Goal_Unknown_IsOneLineWithTheKnownGoals(string text, string message) =>
        Assert.Equal(message, Assert.Throws<ExploreException>(() => ExploreGoal.Parse(text)).Message);

    [Theory]
    [InlineData("60s", 60.0, null)]
    [InlineData("5m", 300.0, null)]
    [InlineData("500ms", 0.5, null)]
    [InlineData("2000", null, 2000)]
    public void Budget_Parse_ReadsTimesAndCounts(string text, double? seconds, int? sequences)
    {
        var budget = ExploreBudget.Parse(text);

        Assert.Equal(seconds, budget.Time?.TotalSeconds);
        Assert.Equal(sequences, budget.Sequences);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5s")]
    [InlineData("soon")]
    [InlineData("10x")]
    public void Budget_Bad_IsAnExploreException(string text) =>
        Assert.StartsWith("--budget: expected a time (60s, 5m, 1h) or a number of sequences (2000), not ", Assert.Throws<ExploreException>(() => ExploreBudget.Parse(text)).Message, StringComparison.Ordinal);

    [Fact]
    public void Actors_Unknown_NamesTheKnownOnes() =>
        Assert.Equal("--actors: unknown actor \"kernal\" (did you mean \"kernel\"?); known: vmm, kernel, device, hw (the guest always acts)",
            Assert.Throws<ExploreException>(() => ExploreOp.ParseActors("vmm,kernal")).Message);
}
