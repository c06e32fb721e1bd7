using System.Runtime.CompilerServices;
using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// The frames the current step reached that matter to the lost-error metric: the frame a hardware op acted on, and
/// frames such an op hit earlier in the run whose data the step read or wrote through the memory controller. The metric
/// follows a memory error by the frame it hit, so a later access counts only where it reached that frame. Until a
/// hardware op has run, noting an access is one count check, and it never allocates.
/// </summary>
internal sealed class StepFrames
{
    private readonly HashSet<ulong> _watched = [];
    private readonly List<ulong> _frames = [];

    public IReadOnlyList<ulong> Frames => _frames;

    /// <summary>A hardware op has run: accesses must be noted (the soft TLB's inlined hit then steps aside).</summary>
    public bool Watching { get; private set; }

    /// <summary>A hardware op (hw.memory-error, hw.unpoison) acted on <paramref name="pfn"/>: noted, and watched from now on.</summary>
    public void Acted(Pfn pfn)
    {
        _watched.Add(pfn.Value);
        Watching = true;
        Add(pfn.Value);
    }

    /// <summary>The step read or wrote <paramref name="pfn"/>'s data.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Note(Pfn pfn)
    {
        if (Watching && _watched.Contains(pfn.Value)) Add(pfn.Value);
    }

    public void Clear() => _frames.Clear();

    private void Add(ulong pfn)
    {
        if (!_frames.Contains(pfn)) _frames.Add(pfn);
    }
}
