using Microsoft.Extensions.DependencyInjection;
using Moq;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Options;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using static Vmm.Core.Tests.Infrastructure.RunnerHarness;

namespace Vmm.Core.Tests.Scenarios;

public class ScenarioRunnerTests
{
    private const string ThreeSteps = """
        {
          "name": "three steps",
          "vms": [ { "name": "vm1", "memory": "8M" } ],
          "steps": [
            { "op": "host.write", "vm": "vm1", "gpa": "0x1000", "data": "0x01", "expect": "ok" },
            { "op": "host.fork" },
            { "op": "host.read", "vm": "vm1", "gpa": "0x1000", "len": 1, "expect": { "sigbus": { "code": "BUS_MCEERR_AR" } } }
          ]
        }
        """;

    [Fact]
    public void Run_WithoutComponents_UsesDefaultsAndLeavesThpOut()
    {
        var factory = new ScriptedMachineFactory();

        var result = Run(ThreeSteps, factory);

        Assert.Equal(
            new Dictionary<ComponentKind, string> { [ComponentKind.Memory] = "plain", [ComponentKind.Policy] = "none", [ComponentKind.Faults] = "linux", [ComponentKind.PageTable] = "x86-64" },
            result.Components);
        Assert.IsType<FakeMemory>(factory.Components!.Memory);
        Assert.IsType<FakePolicy>(factory.Components.Policy);
        Assert.Null(factory.Components.Thp);
    }

    [Fact]
    public void Run_UnknownComponentOfABuiltScenario_FailsAtTheLocationTheModelCarries()
    {
        // No parser involved: the runner finds the location on the model, not in the parser's source map.
        var scenario = new Scenario
        {
            File = "built.json",
            Name = "built",
            Components = new() { [ComponentKind.Policy] = "nope" },
            ComponentLocations = new() { [ComponentKind.Policy] = new SourceLocation("built.json", 7, 3) },
        };
        using var services = Services(new ScriptedMachineFactory());

        var error = Assert.Throws<ScenarioException>(() => new ScenarioRunner(services).Run(scenario));

        Assert.StartsWith("unknown policy 'nope'", error.Message, StringComparison.Ordinal);
        Assert.Equal(new SourceLocation("built.json", 7, 3), error.Location);
    }

    [Fact]
    public void Run_VmWithThp_ResolvesTheThpStrategy()
    {
        var factory = new ScriptedMachineFactory();

        var result = Run("""{ "name": "n", "vms": [ { "name": "v", "memory": "4M", "thp": true } ], "steps": [] }""", factory, withThp: true);

        Assert.IsType<FakeThp>(factory.Components!.Thp);
        Assert.Equal("split", result.Components[ComponentKind.Thp]);
    }

    [Fact]
    public void Run_VmWithThpAndNoThpComponent_FailsNamingTheVmAndTheFix()
    {
        var error = RunError("""{ "name": "n", "vms": [ { "name": "v", "memory": "4M", "thp": true } ], "steps": [] }""");

        Assert.StartsWith("vm 'v' has thp: true, which needs a huge-page strategy, but no plugin registers thp 'split' (known: none)", error.Message, StringComparison.Ordinal);
        Assert.Contains("set thp: false", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, error.Location.Line);
    }

    [Fact]
    public void Run_UnknownPolicy_ListsKnownNamesAtTheComponentsEntry()
    {
        var error = RunError("{ \"name\": \"n\",\n  \"components\": { \"policy\": \"hwpoison-v9\" }, \"steps\": [] }");

        Assert.Equal("unknown policy 'hwpoison-v9'; known: none, other", error.Message);
        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 2, 29), error.Location);
    }

    [Fact]
    public void Run_SetOverride_ReplacesTheScenarioChoice()
    {
        var factory = new ScriptedMachineFactory();
        var overrides = new RunOverrides { Components = new Dictionary<ComponentKind, string> { [ComponentKind.Policy] = "other" } };

        var result = Run("""{ "name": "n", "components": { "policy": "none" }, "steps": [] }""", factory, overrides);

        Assert.IsType<OtherPolicy>(factory.Components!.Policy);
        Assert.Equal("other", result.Components[ComponentKind.Policy]);
        Assert.Equal("other", factory.Scenario!.Components[ComponentKind.Policy]);
    }

    [Fact]
    public void Run_UnknownSetOverride_SaysItCameFromSet()
    {
        var error = RunError(ThreeSteps, new RunOverrides { Components = new Dictionary<ComponentKind, string> { [ComponentKind.Memory] = "tdx-xx" } });

        Assert.Equal("unknown memory 'tdx-xx' (from --set); known: plain", error.Message);
    }

    [Fact]
    public void Run_KernelOverride_ReachesTheMachine()
    {
        var factory = new ScriptedMachineFactory();

        var result = Run("""{ "name": "n", "kernel": "5.16", "steps": [] }""", factory, new RunOverrides { Kernel = new KernelVersion(6, 11) });

        Assert.Equal(new KernelVersion(6, 11), factory.Scenario!.Kernel);
        Assert.Equal(new KernelVersion(6, 11), result.Kernel);
    }

    [Fact]
    public void Run_EachStep_PassesWhenItsExpectationMatchesOrItHasNone()
    {
        var result = Run(ThreeSteps, new ScriptedMachineFactory(_ => Outcome.Ok()));

        Assert.Equal([true, true, false], result.Steps.Select(s => s.Passed));
        Assert.False(result.Passed);
        Assert.Equal(["host.write", "host.fork", "host.read"], result.Steps.Select(s => s.Op));
        Assert.Null(result.Steps[1].Expected);
        Assert.Equal("three steps", result.Name);
        Assert.Equal(ScenarioJson.FileName, result.File);
    }

    [Fact]
    public void Run_AllExpectationsMet_Passes()
    {
        var result = Run(ThreeSteps, new ScriptedMachineFactory(step =>
            step.Op.Name == "host.read" ? Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(0x1000), 12) : Outcome.Ok()));

        Assert.True(result.Passed);
    }

    [Fact]
    public void Run_AfterTheMachineEnds_LaterStepsAreNotRunAndNeverExecuted()
    {
        var machine = new Mock<IScenarioMachine>(MockBehavior.Strict);
        var ended = false;
        machine.SetupGet(m => m.Ended).Returns(() => ended);
        machine.Setup(m => m.Execute(It.Is<StepSpec>(s => s.Index == 0))).Returns(() =>
        {
            ended = true;
            return Outcome.HostPanic("poison consumed in kernel");
        });
        machine.SetupGet(m => m.Warnings).Returns([]);
        machine.SetupGet(m => m.Ledger).Returns(new Costs.CostLedger());
        machine.SetupGet(m => m.PeakFramesInUse).Returns(3);
        machine.SetupGet(m => m.LastFrames).Returns([]);
        var factory = new Mock<IScenarioMachineFactory>();
        factory.Setup(f => f.Create(It.IsAny<Scenario>(), It.IsAny<SimulationComponents>())).Returns(machine.Object);
        var json = """
            { "name": "n", "vms": [ { "name": "vm1", "memory": "8M" } ], "steps": [
              { "op": "kernel.read", "vm": "vm1", "gpa": 0, "len": 1, "expect": "host-panic" },
              { "op": "host.read", "vm": "vm1", "gpa": 0, "len": 1, "expect": "ok" },
              { "op": "host.read", "vm": "vm1", "gpa": 0, "len": 1, "expect": "not-run" } ] }
            """;
        using var services = Services(factory.Object);

        var result = new ScenarioRunner(services).Run(ScenarioJson.Parse(json));

        Assert.Equal([OutcomeKind.HostPanic, OutcomeKind.NotRun, OutcomeKind.NotRun], result.Steps.Select(s => s.Actual.Kind));
        Assert.Equal([true, false, true], result.Steps.Select(s => s.Passed));
        machine.Verify(m => m.Execute(It.IsAny<StepSpec>()), Times.Once);
    }

    [Fact]
    public void Run_OnStep_SeesEveryResultInOrder()
    {
        var seen = new List<int>();
        using var services = Services(new ScriptedMachineFactory());

        var result = new ScenarioRunner(services).Run(ScenarioJson.Parse(ThreeSteps), onStep: step => seen.Add(step.Index));

        Assert.Equal([0, 1, 2], seen);
        Assert.Equal(3, result.Steps.Count);
    }

    [Fact]
    public void Start_Steps_ExecutesOneStepPerItem()
    {
        var factory = new ScriptedMachineFactory();
        using var services = Services(factory);
        using var run = new ScenarioRunner(services).Start(ScenarioJson.Parse(ThreeSteps));

        var first = run.Steps().First();

        Assert.Equal(0, first.Index);
        Assert.Single(factory.Machine!.Executed);
        var result = run.Finish();
        Assert.Equal(3, factory.Machine.Executed.Count);
        Assert.Equal(3, result.Steps.Count);
    }

    [Fact]
    public void Run_Result_CarriesTheMachinesWarningsAndCosts()
    {
        var factory = new ScriptedMachineFactory();
        factory = new ScriptedMachineFactory(step =>
        {
            factory.Machine!.Ledger.Add(CostKind.PageFault, 2);
            factory.Machine.WarningList.Add($"warned at {step.Index}");
            return Outcome.Ok();
        });

        var result = Run(ThreeSteps, factory);

        Assert.Equal(6, result.Costs["PageFault"]);
        Assert.Equal(["warned at 0", "warned at 1", "warned at 2"], result.Warnings);
        Assert.Equal(6 * 500, result.ModelledNanoseconds);
    }

    [Fact]
    public void Validate_UnknownComponent_ThrowsWithoutCreatingAMachine()
    {
        var factory = new ScriptedMachineFactory();
        using var services = Services(factory);

        Assert.Throws<ScenarioException>(() => new ScenarioRunner(services).Validate(ScenarioJson.Parse("""{ "name": "n", "components": { "faults": "vmce" }, "steps": [] }""")));
        Assert.Null(factory.Machine);
    }

    [Fact]
    public void AddVmmCore_RegistersTheSimulationAsTheDefaultMachine()
    {
        using var services = new ServiceCollection().AddVmmCore().BuildServiceProvider();

        Assert.IsType<SimulationMachineFactory>(services.GetRequiredService<IScenarioMachineFactory>());
        using var scope = services.CreateScope();
        Assert.Same(scope.ServiceProvider.GetRequiredService<ScenarioOptionsSource>(), scope.ServiceProvider.GetRequiredService<IComponentOptionsSource>());
    }
}
