using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine;

/// <summary>What <see cref="ScenarioRunner"/> drives: a simulated host that executes steps. The default is <see cref="Simulation"/>.</summary>
public interface IScenarioMachine
{
    /// <summary>Runs one step; bad arguments throw <see cref="ScenarioException"/>.</summary>
    Outcome Execute(StepSpec step);

    /// <summary>True after an outcome that ends the machine (host-panic, shutdown).</summary>
    bool Ended { get; }

    IReadOnlyList<string> Warnings { get; }

    CostLedger Ledger { get; }

    /// <summary>The pfns the last step reached that lost err follows (see <see cref="StepResult.Frames"/>); empty when the machine does not model frames.</summary>
    IReadOnlyList<ulong> LastFrames => [];

    /// <summary>The most frames in use at once so far; 0 when the machine does not model frames.</summary>
    long PeakFramesInUse => 0;

    /// <summary>Each VM's guest memory now, at most <paramref name="maxCells"/> cells per VM; empty when the machine does not model memory.</summary>
    IReadOnlyList<GuestMemoryMap> MapGuestMemory(int maxCells) => [];
}

/// <summary>Creates the machine for one run; registered as a singleton (tests replace it with a fake machine).</summary>
public interface IScenarioMachineFactory
{
    IScenarioMachine Create(Scenario scenario, SimulationComponents components);
}

/// <summary>The real machine: a fresh <see cref="Simulation"/> per run.</summary>
public sealed class SimulationMachineFactory : IScenarioMachineFactory
{
    public IScenarioMachine Create(Scenario scenario, SimulationComponents components) => new SimulationMachine(new Simulation(scenario, components));

    private sealed class SimulationMachine(Simulation simulation) : IScenarioMachine
    {
        public Outcome Execute(StepSpec step) => simulation.Execute(step);
        public bool Ended => simulation.Ended;
        public IReadOnlyList<string> Warnings => simulation.Warnings;
        public CostLedger Ledger => simulation.Ledger;
        public long PeakFramesInUse => simulation.Kernel.Mm.Allocator.PeakAllocatedFrames;
        public IReadOnlyList<ulong> LastFrames => simulation.LastFrames;
        public IReadOnlyList<GuestMemoryMap> MapGuestMemory(int maxCells) => GuestMemoryMap.Of(simulation.Kernel, maxCells);
    }
}
