using Vmm.Core.Comparisons;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting.Exploration;

/// <summary>
/// What <c>vmm explore</c> looks for. Each goal is one <see cref="RunMetrics"/> safety count, so a run violates a goal
/// exactly when <c>vmm compare</c> would count the same event for it; <see cref="Any"/> is every goal at once.
/// </summary>
public sealed record ExploreGoal(string Name, string Metric, string Description)
{
    public static ExploreGoal HostPanic { get; } = new("host-panic", RunMetrics.HostPanics, "the host panicked");
    public static ExploreGoal Shutdown { get; } = new("shutdown", RunMetrics.Shutdowns, "the platform shut down");
    public static ExploreGoal GuestKilled { get; } = new("guest-killed", RunMetrics.GuestsKilled, "the guest was killed");
    public static ExploreGoal PlaintextLeak { get; } = new("plaintext-leak", RunMetrics.PlaintextBytes, "a host-side op received guest-private plaintext");
    public static ExploreGoal SilentCorruption { get; } = new("silent-corruption", RunMetrics.SilentCorruptions, "the guest read data it did not write, with no error");
    public static ExploreGoal LostError { get; } = new("lost-error", RunMetrics.UnreportedErrors, "a real memory error was consumed or replaced and nobody was told");
    public static ExploreGoal FrameLeak { get; } = new("frame-leak", RunMetrics.FramesLeaked, "a poisoned frame was never returned to the allocator");

    /// <summary>The goals one metric each, in the order <c>any</c> checks them.</summary>
    public static IReadOnlyList<ExploreGoal> Single { get; } = [HostPanic, Shutdown, GuestKilled, PlaintextLeak, SilentCorruption, LostError, FrameLeak];

    public static ExploreGoal Any { get; } = new("any", "", "any of the goals");

    /// <summary>Every goal name --goal takes.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Single.Select(g => g.Name), Any.Name];

    /// <summary>The goals this one stands for: itself, or every single goal for <see cref="Any"/>.</summary>
    public IReadOnlyList<ExploreGoal> Parts => ReferenceEquals(this, Any) ? Single : [this];

    /// <summary>Reads a --goal value; an unknown name is an <see cref="ExploreException"/> with the known names.</summary>
    public static ExploreGoal Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text == Any.Name) return Any;
        return Single.FirstOrDefault(g => g.Name == text)
            ?? throw new ExploreException($"--goal: unknown goal \"{NameHints.Shorten(text)}\"{NameHints.DidYouMean(text, Names)}; known: {string.Join(", ", Names)}");
    }

    /// <summary>The first of this goal's parts that <paramref name="metrics"/> (a run's <see cref="RunMetrics.Of"/>) shows violated, or null.</summary>
    public ExploreGoal? ViolatedBy(IReadOnlyDictionary<string, double> metrics) =>
        Parts.FirstOrDefault(g => metrics.GetValueOrDefault(g.Metric) > 0);

    public override string ToString() => Name;
}

/// <summary>Bad input to an exploration (a goal, actor, budget or depth); the message is one line naming the option and the fix.</summary>
public sealed class ExploreException(string message, Exception? inner = null) : Exception(message, inner);
