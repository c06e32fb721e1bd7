using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine;

/// <summary>
/// One started run (from <see cref="ScenarioRunner.Start"/>): <see cref="Steps"/> executes the steps lazily, one
/// per item, so front ends can show progress; <see cref="Finish"/> runs what is left and returns the result.
/// Disposing ends the run's DI scope.
/// </summary>
public sealed class ScenarioRun : IDisposable
{
    private readonly Scenario _source;
    private readonly Scenario _effective;
    private readonly IScenarioMachine _machine;
    private readonly IReadOnlyDictionary<ComponentKind, string> _names;
    private readonly IServiceScope _scope;
    private readonly List<StepResult> _results = [];

    internal ScenarioRun(Scenario source, Scenario effective, IScenarioMachine machine, IReadOnlyDictionary<ComponentKind, string> names, IServiceScope scope)
    {
        _source = source;
        _effective = effective;
        _machine = machine;
        _names = names;
        _scope = scope;
    }

    /// <summary>The run keeps no bytes (memory.contents "none"): expected data is not checked, and <see cref="Finish"/> says so.</summary>
    internal bool ContentsFree { get; init; }

    /// <summary>The scenario as run: kernel and component names after defaults and overrides.</summary>
    public Scenario Scenario => _effective;

    /// <summary>Results so far.</summary>
    public IReadOnlyList<StepResult> Results => _results;

    /// <summary>
    /// Executes the steps not yet run, yielding each result; after the machine ended, steps are <c>not-run</c>.
    /// Once <paramref name="cancellationToken"/> is cancelled, the next step throws <see cref="OperationCanceledException"/> instead of running.
    /// </summary>
    public IEnumerable<StepResult> Steps(CancellationToken cancellationToken = default)
    {
        while (_results.Count < _effective.Steps.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var step = _effective.Steps[_results.Count];
            var ran = !_machine.Ended;
            var actual = ran ? _machine.Execute(step) : Outcome.NotRun;
            var dataNotChecked = ContentsFree && step.Expect?.Data is not null;
            var result = new StepResult(step.Index, step.Op.Name, step.Expect, actual, step.Expect is null || step.Expect.Matches(actual, checkData: !dataNotChecked), step.Location)
            {
                DataNotChecked = dataNotChecked,
                Frames = ran && _machine.LastFrames is { Count: > 0 } frames ? frames.ToArray() : [],
            };
            _results.Add(result);
            yield return result;
        }
    }

    /// <summary>Each VM's guest memory as it is between steps (see <see cref="IScenarioMachine.MapGuestMemory"/>).</summary>
    public IReadOnlyList<GuestMemoryMap> MapGuestMemory(int maxCells) => _machine.MapGuestMemory(maxCells);

    /// <summary>Runs the remaining steps and returns the scenario's result.</summary>
    public ScenarioResult Finish()
    {
        foreach (var _ in Steps()) { }
        return new ScenarioResult(
            _source.File,
            _source.Name,
            _results.TrueForAll(s => s.Passed),
            _results.ToList(),
            [.. _machine.Warnings, .. ContentsFreeWarnings()],
            _machine.Ledger.Snapshot(),
            _machine.Ledger.ModelledNanoseconds,
            _effective.Kernel,
            _names)
        {
            ModelledNanosecondsByKind = Enum.GetValues<CostKind>()
                .Select(kind => (kind, ns: _machine.Ledger.ModelledNanosecondsOf(kind)))
                .Where(x => x.ns != 0)
                .ToDictionary(x => x.kind.ToString(), x => x.ns),
            PeakFramesInUse = _machine.PeakFramesInUse,
            ContentsFree = ContentsFree,
        };
    }

    private IEnumerable<string> ContentsFreeWarnings()
    {
        var notChecked = _results.Where(r => r.DataNotChecked).Select(r => r.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        if (notChecked.Count > 0)
            yield return $"contents-free run (memory.contents \"none\"): the expected data of {notChecked.Count} step{(notChecked.Count == 1 ? "" : "s")} ({string.Join(", ", notChecked)}) was not checked, only the outcome kind and count, because no bytes are kept; run with memory.contents \"full\" to check it";
    }

    public void Dispose() => _scope.Dispose();
}
