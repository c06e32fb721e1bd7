using Microsoft.Extensions.DependencyInjection;
using Moq;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

/// <summary>ScenarioBatch, what <c>vmm run</c> and any other front end run: validate all, run each under the limit, tally.</summary>
public sealed class ScenarioBatchTests : IDisposable
{
    private const string Components = """
        "components": { "memory": "test-memory", "policy": "test-policy", "faults": "test-faults", "pagetable": "test-pagetable" },
        """;

    private readonly ScratchDirectory _scratch = new();
    private readonly Mock<IScenarioMachineFactory> _machines = new();

    public ScenarioBatchTests() => UseMachine(_ => Outcome.Ok());

    [Fact]
    public void Run_KeepGoing_RunsTheValidFilesAndTalliesEveryOne()
    {
        var pass = Scenario("a-pass.json", """{ "op": "host.fork", "expect": "ok" }""");
        var bad = _scratch.Write("suite/b-bad.json", "{");
        var fail = Scenario("c-fail.json", """{ "op": "host.fork", "expect": { "errno": "EFAULT" } }""");
        using var host = Load();
        var batch = new ScenarioBatch(host, new BatchOptions { KeepGoing = true });
        var events = new List<string>();
        batch.ScenarioStarting += item => events.Add($"start {item.Number}/{item.Count} {Path.GetFileName(item.File)}");
        batch.ScenarioFinished += (item, entry) => events.Add($"end {item.Number} {entry.Report?.Passed}");

        var report = batch.Run([Suite]);

        Assert.True(report.Ran);
        Assert.Equal(["start 1/2 a-pass.json", "end 1 True", "start 2/2 c-fail.json", "end 2 False"], events);
        Assert.Equal([pass, fail], report.Scenarios.Select(s => s.File));
        Assert.Equal(bad, Assert.Single(report.Errors).File);
        Assert.Equal("3 scenarios, 1 passed, 1 failed, 1 invalid", report.Tally.ToString());
    }

    [Fact]
    public void Run_InvalidFileWithoutKeepGoing_RunsNothing()
    {
        Scenario("a-pass.json", """{ "op": "host.fork" }""");
        _scratch.Write("suite/b-bad.json", "{");
        using var host = Load();
        var batch = new ScenarioBatch(host);
        var plan = batch.Prepare([Suite]);

        var report = batch.Run(plan);

        Assert.Single(plan.Valid);
        Assert.True(plan.HasProblems);
        Assert.False(report.Ran);
        Assert.Empty(report.Scenarios);
        Assert.Single(report.Errors);
        _machines.Verify(f => f.Create(It.IsAny<Scenario>(), It.IsAny<SimulationComponents>()), Times.Never);
    }

    [Fact]
    public void Prepare_MissingPath_ThrowsOrWithKeepGoingIsInvalid()
    {
        using var host = Load();
        var missing = Path.Combine(_scratch.Path, "nowhere");

        var error = Assert.Throws<InvalidScenarioException>(() => new ScenarioBatch(host).Prepare([missing]));
        var plan = new ScenarioBatch(host, new BatchOptions { KeepGoing = true }).Prepare([missing]);

        Assert.Equal($"{missing}: no such file or directory", error.ToString());
        Assert.Equal(error.Diagnostic, Assert.Single(plan.Invalid));
        Assert.False(plan.IsEmpty);
    }

    [Fact]
    public void Run_StepPastTheTimeout_IsTimedOutAndTheNextFileRuns()
    {
        using var release = new ManualResetEventSlim();
        UseMachine(step =>
        {
            if (step.Op.Name == "host.madvise") release.Wait();
            return Outcome.Ok();
        });
        var stuck = Scenario("a-stuck.json", """{ "op": "host.fork" }, { "op": "host.madvise", "vm": "vm1", "gpa": 0, "size": "4K", "advice": "HWPOISON" }""");
        Scenario("b-pass.json", """{ "op": "host.fork" }""");
        using var host = Load();
        var batch = new ScenarioBatch(host, new BatchOptions { Timeout = TimeSpan.FromMilliseconds(200), TimeoutGrace = TimeSpan.FromMilliseconds(100) }) { Tick = TimeSpan.FromMilliseconds(10) };
        var waited = 0;
        batch.ScenarioWaiting += (_, _) => waited++;

        var report = batch.Run([Suite]);
        release.Set();

        var timedOut = Assert.Single(report.TimedOut);
        Assert.Equal((stuck, 1, 2), (timedOut.File, timedOut.StepsDone, timedOut.StepCount));
        Assert.Equal($"{stuck}: stopped after 0.2 s (--timeout) with 1 of 2 steps done; step 1 (host.madvise) did not return and goes on in the background until vmm exits; raise --timeout, or give --timeout 0 for no limit", timedOut.Message);
        Assert.Equal("2 scenarios, 1 passed, 0 failed, 1 timed out", report.Tally.ToString());
        Assert.True(waited >= 10, $"waited {waited} ticks");
    }

    [Fact]
    public void Run_MachineBug_IsThatFilesInternalError()
    {
        UseMachine(_ => throw new InvalidOperationException("fake bug"));
        var file = Scenario("bug.json", """{ "op": "host.fork" }""");
        using var host = Load();

        var report = new ScenarioBatch(host).Run([file]);

        var error = Assert.Single(report.InternalErrors);
        Assert.StartsWith($"{file}: internal error (a bug; please report it): System.InvalidOperationException: fake bug", error.Message, StringComparison.Ordinal);
        Assert.Equal("1 scenarios, 0 passed, 0 failed, 1 internal error", report.Tally.ToString());
    }

    public void Dispose() => _scratch.Dispose();

    private string Suite => Path.Combine(_scratch.Path, "suite");

    private string Scenario(string name, string steps) => _scratch.Write(Path.Combine("suite", name), $$"""
        { "name": "{{Path.GetFileNameWithoutExtension(name)}}", {{Components}}
          "vms": [ { "name": "vm1", "memory": "8M" } ],
          "steps": [ {{steps}} ] }
        """);

    private void UseMachine(Func<StepSpec, Outcome> execute) =>
        _machines.Setup(f => f.Create(It.IsAny<Scenario>(), It.IsAny<SimulationComponents>())).Returns(() =>
        {
            var machine = new Mock<IScenarioMachine>();
            machine.Setup(m => m.Execute(It.IsAny<StepSpec>())).Returns(execute);
            machine.SetupGet(m => m.Warnings).Returns([]);
            machine.SetupGet(m => m.Ledger).Returns(new CostLedger());
            return machine.Object;
        });

    private VmmHost Load() =>
        VmmHost.Load(_scratch.PluginsJson(("Fakes", TestPaths.TestPlugin("Vmm.TestPlugins.Fakes"))), services => services.AddSingleton(_machines.Object));
}
