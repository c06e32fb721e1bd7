using Microsoft.Extensions.DependencyInjection;
using Moq;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

/// <summary>VmmHost.Run with a cancellation token (what <c>vmm run --timeout</c> uses): the run stops before its next step.</summary>
public sealed class VmmHostCancellationTests
{
    private const string ThreeSteps = """
        { "name": "three", "components": { "memory": "test-memory", "policy": "test-policy", "faults": "test-faults", "pagetable": "test-pagetable" },
          "vms": [ { "name": "vm1", "memory": "8M" } ],
          "steps": [ { "op": "host.fork" }, { "op": "host.fork" }, { "op": "host.fork" } ] }
        """;

    [Fact]
    public void Run_TokenCancelledDuringAStep_StopsBeforeTheNextStep()
    {
        using var cancel = new CancellationTokenSource();
        var machine = Machine(() => cancel.Cancel());
        using var scratch = new ScratchDirectory();
        using var host = Load(scratch, machine.Object);
        var scenario = host.Validate(scratch.Write("three.json", ThreeSteps));
        var steps = new List<StepReport>();

        Assert.Throws<OperationCanceledException>(() => host.Run(scenario, ScenarioOverrides.None, steps.Add, cancel.Token));

        Assert.Single(steps);
        machine.Verify(m => m.Execute(It.IsAny<StepSpec>()), Times.Once);
    }

    [Fact]
    public void Run_TokenNeverCancelled_RunsEveryStep()
    {
        using var cancel = new CancellationTokenSource();
        var machine = Machine(() => { });
        using var scratch = new ScratchDirectory();
        using var host = Load(scratch, machine.Object);
        var scenario = host.Validate(scratch.Write("three.json", ThreeSteps));

        var result = host.Run(scenario, ScenarioOverrides.None, null, cancel.Token);

        Assert.Equal(3, result.Steps.Count);
        machine.Verify(m => m.Execute(It.IsAny<StepSpec>()), Times.Exactly(3));
    }

    private static Mock<IScenarioMachine> Machine(Action onExecute)
    {
        var machine = new Mock<IScenarioMachine>();
        machine.Setup(m => m.Execute(It.IsAny<StepSpec>())).Callback(onExecute).Returns(Outcome.Ok());
        machine.SetupGet(m => m.Warnings).Returns([]);
        machine.SetupGet(m => m.Ledger).Returns(new CostLedger());
        return machine;
    }

    private static VmmHost Load(ScratchDirectory scratch, IScenarioMachine machine)
    {
        var factory = new Mock<IScenarioMachineFactory>();
        factory.Setup(f => f.Create(It.IsAny<Scenario>(), It.IsAny<SimulationComponents>())).Returns(machine);
        return VmmHost.Load(scratch.PluginsJson(("Fakes", TestPaths.TestPlugin("Vmm.TestPlugins.Fakes"))), services => services.AddSingleton(factory.Object));
    }
}
