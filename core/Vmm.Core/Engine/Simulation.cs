using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine;

/// <summary>One run of a scenario on a fresh simulated host: create the VMs, then execute steps in order.</summary>
public sealed class Simulation
{
    public Simulation(Scenario scenario, SimulationComponents components)
    {
        Scenario = scenario;
        Components = components;
        Ledger = new CostLedger(components.Costs);
    }

    public Scenario Scenario { get; }
    public SimulationComponents Components { get; }
    public CostLedger Ledger { get; }
    public IReadOnlyList<string> Warnings { get; } = [];
    /// <summary>True after an outcome that ends the machine (host-panic, shutdown).</summary>
    public bool Ended { get; private set; }

    /// <summary>Runs one step. Bad arguments (unknown VM, missing address) throw <see cref="ScenarioException"/>.</summary>
    public Outcome Execute(StepSpec step)
    {
        ArgumentNullException.ThrowIfNull(step);
        throw new ScenarioException($"op '{step.Op}' is not wired yet", step.Location);
    }
}
