using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

/// <summary>
/// One VM's guest memory between two steps: <see cref="Cells"/> of <see cref="PagesPerCell"/> pages each (1 unless the VM
/// has more pages than the map has cells), each the most notable <see cref="GuestPageState"/> of its pages.
/// </summary>
public sealed record VmMemoryMap(string Vm, long Pages, long PagesPerCell, IReadOnlyList<GuestPageState> Cells);

/// <summary>Every VM's memory after <see cref="StepsDone"/> steps (0: after the VMs were created, before the first step).</summary>
public sealed record MemoryMapFrame(int StepsDone, IReadOnlyList<VmMemoryMap> Vms);

/// <summary>A scenario's report with its memory maps: <see cref="Frames"/>[0] before the first step, then one after each step.</summary>
public sealed record MemoryMapReport(ScenarioReport Report, IReadOnlyList<MemoryMapFrame> Frames);

/// <summary>Runs a scenario and maps each VM's guest memory after each step (what a memory-map view draws).</summary>
public static class MemoryMaps
{
    /// <summary>The cells per VM when the caller does not say: a 16 MiB VM page by page.</summary>
    public const int DefaultMaxCells = 4096;

    /// <summary>
    /// As <see cref="VmmHost.Run(ValidationResult, ScenarioOverrides?, Action{StepReport}?, CancellationToken)"/>, mapping every VM's
    /// memory before the first step and after each step, with at most <paramref name="maxCells"/> cells per VM.
    /// </summary>
    public static MemoryMapReport RunWithMemoryMaps(this VmmHost host, ValidationResult scenario, ScenarioOverrides? overrides = null, int maxCells = DefaultMaxCells, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCells, 1);
        if (scenario.Scenario is not { } valid)
            throw new ArgumentException($"{scenario.File} is not valid ({scenario.Error}); run only a result whose IsValid is true", nameof(scenario));
        try
        {
            using var run = host.Start(valid, (overrides ?? ScenarioOverrides.None).ToEngine());
            var frames = new List<MemoryMapFrame> { Frame(run, 0, maxCells) };
            foreach (var _ in run.Steps(cancellationToken)) frames.Add(Frame(run, frames.Count, maxCells));
            return new MemoryMapReport(Reports.Of(run.Finish()), frames);
        }
        catch (ScenarioException e)
        {
            throw new InvalidScenarioException(Diagnostic.From(e), e);
        }
    }

    private static MemoryMapFrame Frame(ScenarioRun run, int stepsDone, int maxCells) =>
        new(stepsDone, run.MapGuestMemory(maxCells).Select(m => new VmMemoryMap(m.Vm, m.Pages, m.PagesPerCell, m.Cells)).ToList());
}
