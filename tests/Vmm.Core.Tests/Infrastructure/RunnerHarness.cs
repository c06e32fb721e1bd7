using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Tests.Infrastructure;

/// <summary>A machine that answers each step from a script and records what it executed.</summary>
public sealed class ScriptedMachine(Func<StepSpec, Outcome> script) : IScenarioMachine
{
    public List<StepSpec> Executed { get; } = [];
    public bool Ended { get; private set; }
    public List<string> WarningList { get; } = [];
    public IReadOnlyList<string> Warnings => WarningList;
    public CostLedger Ledger { get; } = new();

    public Outcome Execute(StepSpec step)
    {
        Executed.Add(step);
        var outcome = script(step);
        Ended |= outcome.EndsMachine;
        return outcome;
    }
}

/// <summary>Hands out <see cref="ScriptedMachine"/>s and keeps what the runner gave it.</summary>
public sealed class ScriptedMachineFactory(Func<StepSpec, Outcome>? script = null) : IScenarioMachineFactory
{
    public Scenario? Scenario { get; private set; }
    public SimulationComponents? Components { get; private set; }
    public ScriptedMachine? Machine { get; private set; }

    public IScenarioMachine Create(Scenario scenario, SimulationComponents components)
    {
        Scenario = scenario;
        Components = components;
        return Machine = new ScriptedMachine(script ?? (_ => Outcome.Ok()));
    }
}

/// <summary>A container with AddVmmCore, fake components under the default names, and a machine factory.</summary>
public static class RunnerHarness
{
    public static ServiceProvider Services(IScenarioMachineFactory factory, bool withThp = false)
    {
        var services = new ServiceCollection();
        services.AddVmmCore();
        services.AddVmmComponent<IMemoryController, FakeMemory, FakeMemoryOptions>(ComponentKind.Memory, "plain", "fake memory");
        services.AddVmmComponent<IPrivateMemoryPolicy, FakePolicy>(ComponentKind.Policy, "none", "fake policy");
        services.AddVmmComponent<IPrivateMemoryPolicy, OtherPolicy>(ComponentKind.Policy, "other", "another fake policy");
        services.AddVmmComponent<IFaultDelivery, FakeFaults>(ComponentKind.Faults, "linux", "fake faults");
        services.AddVmmComponent<IPageTableFactory, FakePageTables>(ComponentKind.PageTable, "x86-64", "fake page tables");
        if (withThp) services.AddVmmComponent<IHugePageStrategy, FakeThp>(ComponentKind.Thp, "split", "fake thp");
        services.AddSingleton(factory);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    public static ScenarioResult Run(string json, ScriptedMachineFactory factory, RunOverrides? overrides = null, bool withThp = false)
    {
        using var services = Services(factory, withThp);
        return new ScenarioRunner(services).Run(ScenarioJson.Parse(json), overrides);
    }

    public static ScenarioException RunError(string json, RunOverrides? overrides = null, bool withThp = false) =>
        Assert.Throws<ScenarioException>(() => Run(json, new ScriptedMachineFactory(), overrides, withThp));
}
