using ScottPlot;
using Vmm.Hosting;

namespace Vmm.Charts;

/// <summary>Draws a <see cref="BarChart"/> with ScottPlot: one bar group per category, series stacked or side by side, a legend, labelled ticks.</summary>
public static class ChartRenderer
{
    public const int Width = 1000;
    public const int Height = 560;

    private static readonly Color[] Palette =
    [
        Colors.Crimson, Colors.DarkOrange, Colors.Gold, Colors.SeaGreen, Colors.SteelBlue, Colors.SlateBlue,
        Colors.Orchid, Colors.Gray, Colors.Teal, Colors.Sienna,
    ];

    /// <summary>Writes <paramref name="chart"/> as <paramref name="png"/> and <paramref name="svg"/>.</summary>
    public static void Save(BarChart chart, string png, string svg)
    {
        ArgumentNullException.ThrowIfNull(chart);
        using var plot = Draw(chart);
        plot.SavePng(png, Width, Height);
        plot.SaveSvg(svg, Width, Height);
    }

    /// <summary>The chart as SVG text (what a web page embeds).</summary>
    public static string Svg(BarChart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        using var plot = Draw(chart);
        return plot.GetSvgXml(Width, Height);
    }

    private static Plot Draw(BarChart chart)
    {
        var plot = new Plot();
        var groups = chart.Series.Count;
        var width = chart.Stacked || groups == 0 ? 0.7 : 0.8 / groups;
        for (var s = 0; s < groups; s++)
        {
            var series = chart.Series[s];
            var bars = new List<Bar>();
            for (var c = 0; c < chart.Categories.Count; c++)
            {
                var below = chart.Stacked ? chart.Series.Take(s).Sum(x => x.Values[c]) : 0;
                var position = chart.Stacked ? c : c - 0.4 + width * (s + 0.5);
                bars.Add(new Bar { Position = position, ValueBase = below, Value = below + series.Values[c], Size = width, FillColor = Palette[s % Palette.Length] });
            }
            var plotted = plot.Add.Bars(bars);
            plotted.LegendText = series.Name;
            plotted.Color = Palette[s % Palette.Length];
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, chart.Categories.Count).Select(i => (double)i).ToArray(), chart.Categories.ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 20;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.UpperLeft;
        plot.Axes.Bottom.MinimumSize = 140;
        plot.Axes.Margins(bottom: 0);
        plot.Title(chart.Title);
        plot.YLabel(chart.ValueLabel);
        plot.ShowLegend(Edge.Right);
        return plot;
    }
}
