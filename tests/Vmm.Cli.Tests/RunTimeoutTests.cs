using System.Text.Json;
using Vmm.Cli.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary><c>vmm run --timeout</c>: a scenario past its limit is stopped and reported, and the run goes on.</summary>
public sealed class RunTimeoutTests
{
    private const string PassingSteps = """[ { "op": "host.write", "vm": "vm1", "gpa": "0x1000", "data": "0x01", "expect": "ok" } ]""";

    /// <summary>Twenty host.fork steps: with a second each, twenty seconds unless something stops them.</summary>
    private static readonly string SlowSteps = "[" + string.Join(", ", Enumerable.Repeat("""{ "op": "host.fork" }""", 20)) + "]";

    [Fact]
    public void Run_ScenarioPastTheTimeout_IsStoppedBetweenStepsAndTheNextFileRuns()
    {
        using var cli = new CliHarness { Machines = new FakeMachineFactory(Sleep("host.fork", 1000)), TimeoutGrace = TimeSpan.FromSeconds(30) };
        var slow = cli.Scenario("suite/a-slow.json", SlowSteps);
        cli.Scenario("suite/b-pass.json", PassingSteps);

        var result = cli.Vmm("run", "--timeout", "0.3", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal($"vmm: {slow}: stopped after 0.3 s (--timeout) with 1 of 20 steps done; step 1 (host.fork) was next; raise --timeout, or give --timeout 0 for no limit", result.Stderr.TrimEnd().Split('\n')[^1].TrimEnd());
        Assert.Contains("b-pass (", result.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("2 scenarios, 1 passed, 0 failed, 1 timed out" + Environment.NewLine, result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_StepThatNeverReturns_IsLeftBehindAfterTheGraceAndTheRunGoesOn()
    {
        using var release = new ManualResetEventSlim();
        using var cli = new CliHarness { Machines = new FakeMachineFactory(step => { if (step.Op.Name == "host.fork") release.Wait(); }), TimeoutGrace = TimeSpan.FromMilliseconds(300) };
        try
        {
            var stuck = cli.Scenario("suite/a-stuck.json", """[ { "op": "host.write", "vm": "vm1", "gpa": 0, "data": "0x01" }, { "op": "host.fork" } ]""");
            cli.Scenario("suite/b-pass.json", PassingSteps);

            var result = cli.Vmm("run", "--timeout", "0.5", Path.Combine(cli.Directory, "suite"));

            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.StartsWith($"vmm: {stuck}: stopped after 0.5 s (--timeout) with 1 of 2 steps done; step 1 (host.fork) did not return and goes on in the background until vmm exits;", result.Stderr, StringComparison.Ordinal);
            Assert.EndsWith("2 scenarios, 1 passed, 0 failed, 1 timed out" + Environment.NewLine, result.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public void Run_TimeoutZero_MeansNoLimit()
    {
        using var cli = new CliHarness { Machines = new FakeMachineFactory(Sleep("host.fork", 150)) };
        cli.Scenario("slow.json", """[ { "op": "host.fork" }, { "op": "host.fork" } ]""");

        var result = cli.Vmm("run", "--timeout", "0", Path.Combine(cli.Directory, "slow.json"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public void Run_WithoutTimeout_AllowsSixtySeconds()
    {
        var help = CliHarness.VmmWithPlugins(null, "run", "--help");

        Assert.Contains("--timeout <seconds>", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("(default 60; 0 = no limit)", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("A stopped scenario counts as failed (exit 1)", help.Stdout, StringComparison.Ordinal);
        Assert.Equal(60, RunCommand.DefaultTimeoutSeconds);
    }

    [Fact]
    public void Run_TimedOut_IsListedInTheJsonDocument()
    {
        using var cli = new CliHarness { Machines = new FakeMachineFactory(Sleep("host.fork", 1000)), TimeoutGrace = TimeSpan.FromSeconds(30) };
        var slow = cli.Scenario("slow.json", SlowSteps);

        var result = cli.Vmm("run", "--json", "--timeout", "0.2", slow);

        Assert.True(result.ExitCode == 1, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Empty(json.RootElement.GetProperty("scenarios").EnumerateArray());
        var stopped = Assert.Single(json.RootElement.GetProperty("timedOut").EnumerateArray());
        Assert.Equal(slow, stopped.GetProperty("file").GetString());
        Assert.Equal("slow", stopped.GetProperty("name").GetString());
        Assert.Equal(0.2, stopped.GetProperty("seconds").GetDouble());
        Assert.Equal(1, stopped.GetProperty("stepsDone").GetInt32());
    }

    [Fact]
    public void Run_SlowScenarioWhenPiped_SaysWhichFileIsRunning()
    {
        using var cli = new CliHarness { Machines = new FakeMachineFactory(Sleep("host.fork", 700)) };
        var file = cli.Scenario("slow.json", """[ { "op": "host.fork" }, { "op": "host.fork" } ]""");

        var result = cli.Vmm("run", file);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"vmm: [1/1] running {file}...{Environment.NewLine}", result.Stderr);
    }

    [Fact]
    public void Run_TimedOutInATerminal_ReportsItAboveTheProgress()
    {
        using var cli = new CliHarness { Machines = new FakeMachineFactory(Sleep("host.fork", 1000)), TimeoutGrace = TimeSpan.FromSeconds(30) };
        var slow = cli.Scenario("suite/a-slow.json", SlowSteps);
        cli.Scenario("suite/b-pass.json", PassingSteps);

        var result = cli.VmmInTerminal("run", "--timeout", "0.2", Path.Combine(cli.Directory, "suite"));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"vmm: {slow}: stopped after 0.2 s (--timeout) with 1 of 20 steps done;", CliResult.Flat(result.Stderr), StringComparison.Ordinal);
        Assert.Contains("2 scenarios, 1 passed, 0 failed, 1 timed out", result.PlainStdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1e9")]
    [InlineData("NaN")]
    public void Run_WithAnOutOfRangeTimeout_Exits2WithOneLine(string value)
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("ok.json", "[]");

        var result = cli.Vmm("run", "--timeout", value, file);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("vmm: --timeout: expected a number of seconds from 0 (no limit) to 1000000, not ", result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
    }

    [Fact]
    public void Run_WithATimeoutThatIsNotANumber_Exits2()
    {
        using var cli = new CliHarness();
        var file = cli.Scenario("ok.json", "[]");

        var result = cli.Vmm("run", "--timeout", "soon", file);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("soon", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }

    private static Action<Vmm.Core.Scenarios.StepSpec> Sleep(string op, int milliseconds) => step =>
    {
        if (step.Op.Name == op) Thread.Sleep(milliseconds);
    };
}
